// Runs the balancer conformance suite against every balancer we ship or document, and against
// third-party balancers written only against the public surface, in a folder of their own.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TenementError } from '../../core/index.ts';
import { importPlugin } from '../../core/loader.ts';
import { BUILTINS } from '../../plugins/index.ts';
import { balancerConformance } from './balancer.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

balancerConformance('weighted-balancer', async () => BUILTINS.plugins['weighted-balancer'], { distributesByWeight: true, shareTolerance: 0.02 });

// With nothing in flight every candidate ties, and ties are broken at random: all get traffic.
balancerConformance('least-connections', async () => BUILTINS.plugins['least-connections'], { distributesByWeight: true });

// The third-party example of docs/plugins.md, loaded the way tenement.toml would load it.
balancerConformance('sticky-first-balancer (docs/examples)', () => importPlugin('./docs/examples/sticky-first-balancer.js', ROOT, BUILTINS));
balancerConformance('sticky-first-balancer max_inflight = 1', () => importPlugin('./docs/examples/sticky-first-balancer.js', ROOT, BUILTINS), { options: { max_inflight: 1 } });

// Third-party balancers as users write them: plain JavaScript files in a folder with no
// package.json (and no node_modules) outside this repository, importing only from 'tenement'.
const dir = mkdtempSync(join(tmpdir(), 'tenement-third-party-'));
after(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(join(dir, 'random-balancer.js'), `// Weighted random, against the public surface only.
import { definePlugin, TenementError, Type } from 'tenement';

export { TenementError }; // so the test can check it is the server's own class

export default definePlugin({
  name: 'random-balancer',
  provides: 'balancer',
  options: Type.Object({ seed: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
  create() {
    return {
      apply(ctx) {
        ctx.hooks.selectInstance.tap(ctx.name, (candidates) => {
          const total = candidates.reduce((s, c) => s + c.weight, 0);
          if (candidates.length === 0 || total <= 0) return candidates[0];
          let r = Math.random() * total;
          for (const c of candidates) if ((r -= c.weight) < 0) return c;
          return candidates[candidates.length - 1];
        });
      },
    };
  },
});
`);
// CommonJS (module.exports, .js with no package.json "type"): the highest weight wins.
writeFileSync(join(dir, 'heaviest-balancer.js'), `module.exports = {
  name: 'heaviest-balancer',
  provides: 'balancer',
  create() {
    return {
      apply(ctx) {
        ctx.hooks.selectInstance.tap(ctx.name, (candidates) => candidates.reduce((a, c) => (a === undefined || c.weight > a.weight ? c : a), undefined));
      },
    };
  },
};
`);
// Deep imports into core: by the package name, and by the path of this repository's core/.
writeFileSync(join(dir, 'deep-balancer.js'), `import { Registry } from 'tenement/core/registry.ts';
export default { name: 'deep-balancer', provides: 'balancer', create() { return { apply() {} }; } };
`);
writeFileSync(join(dir, 'deep-path-balancer.js'), `import { Registry } from ${JSON.stringify(join(ROOT, 'core/registry.ts'))};
export default { name: 'deep-path-balancer', provides: 'balancer', create() { return { apply() {} }; } };
`);

balancerConformance('random-balancer (third-party ES module importing \'tenement\')', () => importPlugin('./random-balancer.js', dir, BUILTINS),
  { distributesByWeight: true, shareTolerance: 0.02 });
balancerConformance('heaviest-balancer (third-party CommonJS)', () => importPlugin('./heaviest-balancer.js', dir, BUILTINS));

describe('third-party balancers and the public surface', () => {
  test("'tenement' is the running core: the plugin's TenementError is the server's own class", async () => {
    await importPlugin('./random-balancer.js', dir, BUILTINS);
    const mod = await import(pathToFileURL(join(dir, 'random-balancer.js')).href) as { TenementError: typeof TenementError };
    assert.equal(mod.TenementError, TenementError);
    assert.ok(new mod.TenementError('TEN_ERR_PLUGIN_FAILED', ['x', 'y', 'z']) instanceof TenementError);
  });

  for (const file of ['deep-balancer.js', 'deep-path-balancer.js']) {
    test(`a balancer importing core internals (${file}) is refused, saying why and what to import instead`, async () => {
      await assert.rejects(importPlugin(`./${file}`, dir, BUILTINS), (e: unknown) => {
        assert.ok(e instanceof TenementError, String(e));
        assert.equal(e.code, 'TEN_ERR_PLUGIN_INVALID_EXPORT');
        assert.match(e.message, /core\/registry\.ts' in \S+deep(-path)?-balancer\.js is refused: only 'tenement' itself is public \(core\/index\.ts\)/);
        assert.match(e.message, /internals that change without notice/);
        assert.match(e.message, /import \{ definePlugin, TenementError \} from 'tenement'/);
        return true;
      });
    });
  }
});
