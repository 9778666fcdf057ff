// Plugins may use only the public surface, core/index.ts: third-party ones as `from 'tenement'`,
// built-ins by the relative path '../../core/index.ts'. Everything else in core/ is internal and
// changes without notice, so an import of it from a plugin (or from the documented example, or a
// plugin fixture) fails this test, naming file:line and why. At run time tenement refuses the same
// imports from third-party plugins (core/module-hooks.mjs; test/unit/loader.test.ts).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { after, test } from 'node:test';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '../..');
/** Where plugin code lives: the built-ins, the documented example, plugin fixtures of the tests. */
const SCANNED = ['plugins', 'docs/examples', 'test/fixtures'];
const SOURCE = /\.(?:[cm]?[jt]s|tsx|jsx)$/;

interface DeepImport { file: string; line: number; specifier: string; message: string }

/** Every import (static, type-only, re-export, dynamic, require) in `file` that reaches into
 *  `root`/core/ past core/index.ts, or into 'tenement/…'. Comments and strings are not imports. */
function deepImports(file: string, source: string, root = ROOT): DeepImport[] {
  const core = join(root, 'core');
  const index = join(core, 'index.ts');
  const out: DeepImport[] = [];
  for (const ref of ts.preProcessFile(source, true, true).importedFiles) {
    const spec = ref.fileName;
    let deep: boolean;
    if (spec === 'tenement' || spec.startsWith('tenement/')) deep = spec !== 'tenement';
    else if (spec.startsWith('.') || isAbsolute(spec)) {
      const target = resolve(dirname(file), spec);
      deep = (target === core || target.startsWith(`${core}/`)) && target !== index;
    } else continue;
    if (!deep) continue;
    const line = source.slice(0, ref.pos).split('\n').length;
    const where = `${relative(root, file)}:${line}`;
    out.push({ file, line, specifier: spec, message: `${where}: imports '${spec}', a deep import into tenement's core. `
      + `Plugins may use only core/index.ts, the public surface (import from 'tenement'; built-ins: '../../core/index.ts'): `
      + `the rest of core/ is internal and deep imports break without notice. Export what the plugin needs from core/index.ts instead.` });
  }
  return out;
}

function walk(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => e.isDirectory() ? (e.name === 'node_modules' ? [] : walk(join(dir, e.name)))
    : SOURCE.test(e.name) ? [join(dir, e.name)] : []);
}

test('plugins, the documented example and plugin fixtures import core only through core/index.ts', () => {
  const files = SCANNED.flatMap((d) => walk(join(ROOT, d)));
  assert.ok(files.some((f) => f.endsWith('plugins/weighted-balancer/index.ts')), 'the scan reaches the built-ins');
  assert.ok(files.some((f) => f.endsWith('docs/examples/sticky-first-balancer.js')), 'the scan reaches the example');
  const found = files.flatMap((f) => deepImports(f, readFileSync(f, 'utf8')));
  assert.equal(found.length, 0, `\n${found.map((d) => d.message).join('\n')}`);
});

test('the documented example imports the surface by package name, like a third-party plugin', () => {
  const source = readFileSync(join(ROOT, 'docs/examples/sticky-first-balancer.js'), 'utf8');
  const specs = ts.preProcessFile(source, true, true).importedFiles.map((r) => r.fileName);
  assert.deepEqual(specs, ['tenement']);
});

// The check can fail: a scratch tree with its own core/ and a plugin reaching into it.
const scratch = mkdtempSync(join(tmpdir(), 'tenement-surface-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('deepImports() names file:line and why for each deep import, and passes the public ones', () => {
  mkdirSync(join(scratch, 'core'));
  mkdirSync(join(scratch, 'plugins/bad'), { recursive: true });
  writeFileSync(join(scratch, 'core/index.ts'), 'export {};\n');
  const file = join(scratch, 'plugins/bad/index.ts');
  const source = `// import { Registry } from '../../core/registry.ts' (a comment is not an import)
import { definePlugin } from '../../core/index.ts';
import { definePlugin as d2 } from 'tenement';
import {
  Registry,
} from '../../core/registry.ts';
import type { Instance } from '../../core/types.ts';
export { parseHost } from 'tenement/core/router.ts';
const lazy = () => import('../../core/store.ts');
const url = 'http://example.com/../../core/not-an-import.ts';
import '${join(scratch, 'core/process.ts')}';
`;
  writeFileSync(file, source);
  const found = deepImports(file, readFileSync(file, 'utf8'), scratch);
  assert.deepEqual(found.map((d) => [d.line, d.specifier]), [
    [6, '../../core/registry.ts'],
    [7, '../../core/types.ts'],
    [8, 'tenement/core/router.ts'],
    [9, '../../core/store.ts'],
    [11, join(scratch, 'core/process.ts')],
  ]);
  assert.equal(found[0].message, "plugins/bad/index.ts:6: imports '../../core/registry.ts', a deep import into tenement's core. "
    + "Plugins may use only core/index.ts, the public surface (import from 'tenement'; built-ins: '../../core/index.ts'): "
    + 'the rest of core/ is internal and deep imports break without notice. Export what the plugin needs from core/index.ts instead.');
  // CommonJS too
  assert.deepEqual(deepImports(file, "const { Registry } = require('../../core/registry.ts');\n", scratch).map((d) => d.line), [1]);
  // and a clean plugin passes
  assert.deepEqual(deepImports(file, "import { definePlugin } from '../../core/index.ts';\nimport x from 'undici';\nimport y from './pick.ts';\n", scratch), []);
});
