// The plugin loader against the real built-ins and real plugin files in a temp dir.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parseConfig } from '../../core/config.ts';
import { type ErrorCode, TenementError } from '../../core/errors.ts';
import { importPlugin, LOAD_TIMEOUT_MS, preparePlugins, resolvePlugins, withTimeout } from '../../core/loader.ts';
import { SLOTS } from '../../core/plugin.ts';
import { BUILTINS } from '../../plugins/index.ts';

const MIN = '[service.api]\ncommand = "node app.js"\n';
let dir: string;

/** Plugin files (plain ES modules) written once into the temp config folder. */
const FILES: Record<string, string> = {
  'package.json': '{ "type": "module" }\n',
  'audit.js': `export default {
  name: 'audit',
  options: {
    properties: {
      url: { type: 'string' },
      retries: { type: 'integer', minimum: 0, default: 3 },
      verbose: { type: 'boolean', default: false },
    },
    required: ['url'],
  },
  create(options) { return { apply() {}, options }; },
};\n`,
  'plugins/rr.js': `let n = 0;
export default { name: 'round-robin', provides: 'balancer', create() { return { apply(ctx) { ctx.hooks.selectInstance.tap('round-robin', (c) => c[n++ % c.length]); } }; } };\n`,
  'with-id.js': `export default {
  name: 'with-id',
  options: { $id: 'with-id-options', properties: { level: { type: 'integer', default: 2 } } },
  create() { return { apply() {} }; },
};\n`,
  'extra-balancer.js': `export default { name: 'extra-balancer', provides: 'balancer', create() { return { apply() {} }; } };\n`,
  'fake-weighted.js': `export default { name: 'weighted-balancer', create() { return { apply() {} }; } };\n`,
  'no-create.js': `export default { name: 'no-create' };\n`,
  'no-name.js': `export default { create() { return { apply() {} }; } };\n`,
  'bad-provides.js': `export default { name: 'bad-provides', provides: 'router', create() { return { apply() {} }; } };\n`,
  'named-exports.js': `export const name = 'named-exports';\nexport function create() { return { apply() {} }; }\n`,
  'primitive.js': `export default 42;\n`,
  'throws.js': `throw new Error('top-level failure');\n`,
  'syntax.js': `export default {\n`,
  'imports-missing.js': `import 'tenement-no-such-dependency-zz';\nexport default { name: 'imports-missing', create() { return { apply() {} }; } };\n`,
  'node_modules/tenement-plugin-esm-only/package.json': '{ "name": "tenement-plugin-esm-only", "type": "module", "exports": { ".": { "import": "./index.js" } } }\n',
  'node_modules/tenement-plugin-esm-only/index.js': `export default { name: 'esm-only', create() { return { apply() {} }; } };\n`,
  'node_modules/tenement-plugin-fake/package.json': '{ "name": "tenement-plugin-fake", "type": "module", "main": "index.js" }\n',
  'node_modules/tenement-plugin-fake/index.js': `export default { name: 'fake-npm', create() { return { apply() {} }; } };\n`,
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tenement-loader-'));
  for (const [rel, text] of Object.entries(FILES)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

const config = (extra = '') => parseConfig(MIN + extra, join(dir, 'tenement.toml'));
const resolve = (extra = '') => resolvePlugins(config(extra), BUILTINS);

/** Loader errors point into the plugin's table: its [header] (line 3) or its `use` line (line 4). */
function assertTableLine(e: TenementError) {
  assert.ok(e.details.line === 3 || e.details.line === 4, `line ${String(e.details.line)}`);
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, check?: (e: TenementError) => void) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TenementError, `expected a TenementError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    check?.(e);
    return true;
  });
}

describe('resolvePlugins(): slots', () => {
  test('defaults fill every slot, in slot order, with default options', async () => {
    const list = await resolve();
    assert.deepEqual(list.map((p) => [p.slot, p.def.name, p.use]), [
      ['balancer', 'weighted-balancer', 'weighted-balancer'],
      ['isolation', 'linux-isolation', 'linux-isolation'],
      ['scaler', 'idle-scaler', 'idle-scaler'],
      ['workflows', 'deploy-workflows', 'deploy-workflows'],
      ['metrics', 'prometheus-exporter', 'prometheus-exporter'],
      ['dashboard', 'web-dashboard', 'web-dashboard'],
    ]);
    assert.equal(list[0].def, BUILTINS.plugins['weighted-balancer']);
    assert.equal(list[2].def, BUILTINS.plugins['idle-scaler']);
    assert.equal(list[3].def, BUILTINS.plugins['deploy-workflows']);
    assert.deepEqual(list.map((p) => p.options), [
      {}, {}, { queue_size: 1000, wait_timeout: 30, check_interval: 0.5, ready: 'health', max_clients: 10000, max_spawned: 10000 },
      { target_header: 'x-tenement-instance', target_cookie: 'tenement-instance', sticky_cookie: 'tenement-sticky', shadow_body_limit: 65536 },
      {}, {},
    ]);
  });

  test('[plugins.scaler] options are checked and defaults filled in; use = false leaves no scaler', async () => {
    const list = await resolve('[plugins.scaler]\nuse = "idle-scaler"\nqueue_size = 5\nready = "port"\n');
    assert.equal(list[2].slot, 'scaler');
    assert.deepEqual(list[2].options, { queue_size: 5, wait_timeout: 30, check_interval: 0.5, ready: 'port', max_clients: 10000, max_spawned: 10000 });
    await rejectsWith(resolve('[plugins.scaler]\nuse = "idle-scaler"\nqueue_size = 0\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => assert.match(e.message, /queue_size/));
    await rejectsWith(resolve('[plugins.scaler]\nuse = "idle-scaler"\nready = "tcp"\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => assert.match(e.message, /ready/));
    assert.deepEqual((await resolve('[plugins.scaler]\nuse = false\n')).map((p) => p.def.name), ['weighted-balancer', 'linux-isolation', 'deploy-workflows', 'prometheus-exporter', 'web-dashboard']);
  });

  test('[plugins.balancer] use = "least-connections" picks it', async () => {
    const list = await resolve('[plugins.balancer]\nuse = "least-connections"\n');
    assert.deepEqual(list.map((p) => p.def.name), ['least-connections', 'linux-isolation', 'idle-scaler', 'deploy-workflows', 'prometheus-exporter', 'web-dashboard']);
    assert.equal(list[0].slot, 'balancer');
    assert.equal(list[0].def, BUILTINS.plugins['least-connections']);
  });

  test('use = false switches a slot off', async () => {
    assert.deepEqual((await resolve('[plugins.balancer]\nuse = false\n')).map((p) => p.def.name), ['linux-isolation', 'idle-scaler', 'deploy-workflows', 'prometheus-exporter', 'web-dashboard']);
    assert.deepEqual((await resolve('[plugins.isolation]\nuse = false\n')).map((p) => p.def.name), ['weighted-balancer', 'idle-scaler', 'deploy-workflows', 'prometheus-exporter', 'web-dashboard']);
    assert.deepEqual((await resolve('[plugins.workflows]\nuse = false\n')).map((p) => p.def.name), ['weighted-balancer', 'linux-isolation', 'idle-scaler', 'prometheus-exporter', 'web-dashboard']);
  });

  test('a slot with no default and no entry stays empty', async () => {
    assert.deepEqual(SLOTS.filter((s) => BUILTINS.defaults[s] === undefined), [], 'every slot has a default');
    const { metrics: _m, ...defaults } = BUILTINS.defaults;
    const list = await resolvePlugins(parseConfig('', join(dir, 'tenement.toml')), { plugins: BUILTINS.plugins, defaults });
    assert.ok(!list.some((p) => p.slot === 'metrics'));
    assert.deepEqual(list.map((p) => p.slot), ['balancer', 'isolation', 'scaler', 'workflows', 'dashboard']);
  });

  test('a ./path relative to config.dir loads (subfolder too)', async () => {
    const list = await resolve('[plugins.balancer]\nuse = "./plugins/rr.js"\n');
    assert.equal(list[0].def.name, 'round-robin');
    assert.equal(list[0].use, './plugins/rr.js');
    assert.equal(list[0].slot, 'balancer');
  });

  test('an installed npm package (node_modules next to tenement.toml) loads', async () => {
    const list = await resolve('[[plugins.extra]]\nuse = "tenement-plugin-fake"\n');
    assert.equal(list.at(-1)!.def.name, 'fake-npm');
    assert.equal(list.at(-1)!.slot, undefined);
  });

  test('an ESM-only npm package (exports with only an "import" condition) loads', async () => {
    // The common shape of a modern ESM package; tenement plugins are ES modules, so it must load.
    const list = await resolve('[[plugins.extra]]\nuse = "tenement-plugin-esm-only"\n');
    assert.equal(list.at(-1)!.def.name, 'esm-only');
  });

  test('extra plugins load after the slots, in file order', async () => {
    const list = await resolve('[[plugins.extra]]\nuse = "tenement-plugin-fake"\n[[plugins.extra]]\nuse = "./audit.js"\nurl = "http://127.0.0.1:9"\n');
    assert.deepEqual(list.map((p) => p.def.name), ['weighted-balancer', 'linux-isolation', 'idle-scaler', 'deploy-workflows', 'prometheus-exporter', 'web-dashboard', 'fake-npm', 'audit']);
  });

  test('an extra plugin may fill a slot that is switched off', async () => {
    const list = await resolve('[plugins.balancer]\nuse = false\n[[plugins.extra]]\nuse = "./extra-balancer.js"\n');
    assert.deepEqual(list.map((p) => [p.def.name, p.slot]), [
      ['linux-isolation', 'isolation'], ['idle-scaler', 'scaler'], ['deploy-workflows', 'workflows'], ['prometheus-exporter', 'metrics'], ['web-dashboard', 'dashboard'], ['extra-balancer', 'balancer'],
    ]);
  });
});

describe('importPlugin()', () => {
  test('a built-in name returns the built-in definition', async () => {
    assert.equal(await importPlugin('least-connections', dir, BUILTINS), BUILTINS.plugins['least-connections']);
  });

  test('an absolute path loads', async () => {
    assert.equal((await importPlugin(join(dir, 'plugins/rr.js'), '/', BUILTINS)).name, 'round-robin');
  });

  test('a ../path resolves against dir', async () => {
    assert.equal((await importPlugin('../rr.js', join(dir, 'plugins', 'sub'), BUILTINS)).name, 'round-robin');
  });

  test('named exports (no default) are accepted as the module itself', async () => {
    assert.equal((await importPlugin('./named-exports.js', dir, BUILTINS)).name, 'named-exports');
  });
});

describe('loader error codes', () => {
  test('TEN_ERR_PLUGIN_NOT_FOUND: missing file', async () => {
    await rejectsWith(resolve('[plugins.balancer]\nuse = "./nope.js"\n'), 'TEN_ERR_PLUGIN_NOT_FOUND', (e) => assert.match(e.message, /\.\/nope\.js/));
  });

  test('TEN_ERR_PLUGIN_NOT_FOUND: missing npm package', async () => {
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "tenement-no-such-plugin-zz"\n'), 'TEN_ERR_PLUGIN_NOT_FOUND', (e) => assert.match(e.message, /tenement-no-such-plugin-zz/));
  });

  test('TEN_ERR_PLUGIN_NOT_FOUND: an unknown built-in-looking name is looked up as a package', async () => {
    await rejectsWith(resolve('[plugins.balancer]\nuse = "weighted-balancr"\n'), 'TEN_ERR_PLUGIN_NOT_FOUND');
  });

  test('a plugin whose own dependency is missing: the message names the dependency', async () => {
    await assert.rejects(importPlugin('./imports-missing.js', dir, BUILTINS), (e: unknown) => {
      assert.ok(e instanceof TenementError);
      assert.match(e.message, /tenement-no-such-dependency-zz/);
      return true;
    });
  });

  for (const [file, why] of [
    ['no-create.js', /create/],
    ['no-name.js', /name/],
    ['primitive.js', /default export/],
    ['bad-provides.js', /provides unknown slot "router"/],
    ['throws.js', /import failed: top-level failure/],
    ['syntax.js', /import failed/],
  ] as const) {
    test(`TEN_ERR_PLUGIN_INVALID_EXPORT: ${file}`, async () => {
      await rejectsWith(resolve(`[[plugins.extra]]\nuse = "./${file}"\n`), 'TEN_ERR_PLUGIN_INVALID_EXPORT', (e) => {
        assert.match(e.message, why);
        assert.ok(e.message.includes(`./${file}`), e.message);
      });
    });
  }

  test('TEN_ERR_PLUGIN_SLOT_MISMATCH: an isolation plugin under [plugins.balancer]', async () => {
    await rejectsWith(resolve('[plugins.balancer]\nuse = "linux-isolation"\n'), 'TEN_ERR_PLUGIN_SLOT_MISMATCH', (e) => {
      assert.match(e.message, /linux-isolation provides slot isolation, not balancer/);
      assert.equal(e.details.key, 'plugins.balancer');
      assertTableLine(e);
    });
  });

  test('TEN_ERR_PLUGIN_SLOT_MISMATCH: a slot-less plugin under a slot', async () => {
    await rejectsWith(resolve('[plugins.metrics]\nuse = "tenement-plugin-fake"\n'), 'TEN_ERR_PLUGIN_SLOT_MISMATCH', (e) => assert.match(e.message, /no slot/));
  });

  test('TEN_ERR_PLUGIN_SLOT_TAKEN: an extra plugin providing balancer', async () => {
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "./extra-balancer.js"\n'), 'TEN_ERR_PLUGIN_SLOT_TAKEN', (e) => {
      assert.match(e.message, /slot balancer is already filled by weighted-balancer; extra-balancer/);
      assert.equal(e.details.key, 'plugins.extra[0]');
      assertTableLine(e);
    });
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "least-connections"\n'), 'TEN_ERR_PLUGIN_SLOT_TAKEN');
  });

  test('TEN_ERR_PLUGIN_SLOT_TAKEN: two extras providing the same slot', async () => {
    await rejectsWith(resolve('[plugins.balancer]\nuse = false\n[[plugins.extra]]\nuse = "./extra-balancer.js"\n[[plugins.extra]]\nuse = "./plugins/rr.js"\n'),
      'TEN_ERR_PLUGIN_SLOT_TAKEN', (e) => assert.match(e.message, /already filled by extra-balancer; round-robin/));
  });

  test('TEN_ERR_PLUGIN_DUPLICATE_NAME: the same extra twice', async () => {
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "tenement-plugin-fake"\n[[plugins.extra]]\nuse = "tenement-plugin-fake"\n'),
      'TEN_ERR_PLUGIN_DUPLICATE_NAME', (e) => assert.match(e.message, /fake-npm/));
  });

  test('TEN_ERR_PLUGIN_DUPLICATE_NAME: a third-party plugin reusing a built-in name', async () => {
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "./fake-weighted.js"\n'), 'TEN_ERR_PLUGIN_DUPLICATE_NAME', (e) => assert.match(e.message, /weighted-balancer/));
  });

  test('TEN_ERR_PLUGIN_INVALID_OPTIONS: options for a plugin that takes none', async () => {
    await rejectsWith(resolve('[plugins.balancer]\nuse = "weighted-balancer"\nfoo = 1\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => {
      assert.match(e.message, /plugins\.balancer\.foo/);
      assert.match(e.message, /takes no options|takes none/);
      assert.equal(e.details.line, 5, 'an option error names the option\'s own line');
    });
  });

  test('TEN_ERR_PLUGIN_INVALID_OPTIONS: unknown option', async () => {
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "./audit.js"\nurl = "http://x"\nretires = 5\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => {
      assert.match(e.message, /plugins\.extra\[0\]\.retires is not an option/);
      assert.equal(e.details.key, 'plugins.extra[0].retires');
    });
  });

  test('TEN_ERR_PLUGIN_INVALID_OPTIONS: wrong type', async () => {
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "./audit.js"\nurl = "http://x"\nretries = "five"\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => {
      assert.match(e.message, /plugins\.extra\[0\]\.retries must be integer/);
      assert.equal(e.details.key, 'plugins.extra[0].retries');
    });
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "./audit.js"\nurl = 1\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => assert.match(e.message, /url must be string/));
  });

  test('TEN_ERR_PLUGIN_INVALID_OPTIONS: out of range and missing required', async () => {
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "./audit.js"\nurl = "http://x"\nretries = -1\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => assert.match(e.message, /retries must be >= 0/));
    await rejectsWith(resolve('[[plugins.extra]]\nuse = "./audit.js"\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => assert.match(e.message, /url/));
  });

  test('valid options: defaults applied, given values kept, config not mutated', async () => {
    const cfg = config('[[plugins.extra]]\nuse = "./audit.js"\nurl = "http://127.0.0.1:9999/hook"\nverbose = true\n');
    const list = await resolvePlugins(cfg, BUILTINS);
    assert.deepEqual(list.at(-1)!.options, { url: 'http://127.0.0.1:9999/hook', retries: 3, verbose: true });
    assert.deepEqual(cfg.plugins.extra[0].options, { url: 'http://127.0.0.1:9999/hook', verbose: true }, 'defaults are not written back into the config');
    // loading the same config again gives the same result (compiled schemas are reusable)
    assert.deepEqual((await resolvePlugins(cfg, BUILTINS)).at(-1)!.options, { url: 'http://127.0.0.1:9999/hook', retries: 3, verbose: true });
  });
});

describe('loading the same config twice (reload, a second server in one process)', () => {
  test('an options schema with an $id validates again on the second load', async () => {
    const cfg = config('[[plugins.extra]]\nuse = "./with-id.js"\n');
    assert.deepEqual((await resolvePlugins(cfg, BUILTINS)).at(-1)!.options, { level: 2 });
    // ajv rejects a second compile of a schema with the same $id ("schema with key or id ... already exists")
    assert.deepEqual((await resolvePlugins(cfg, BUILTINS)).at(-1)!.options, { level: 2 });
  });
});

describe('TEN_ERR_PLUGIN_LOAD_TIMEOUT (withTimeout)', () => {
  test('the load timeout is 5 s', () => {
    assert.equal(LOAD_TIMEOUT_MS, 5000);
  });

  test('a promise that never settles rejects with LOAD_TIMEOUT after ms', async () => {
    const t0 = performance.now();
    await rejectsWith(withTimeout(new Promise(() => {}), 'slow-plugin', 30), 'TEN_ERR_PLUGIN_LOAD_TIMEOUT', (e) => {
      assert.equal(e.message, 'plugin slow-plugin took longer than 30 ms to load');
    });
    const took = performance.now() - t0;
    assert.ok(took >= 25 && took < 1000, `took ${took} ms`);
  });

  test('a fast promise resolves with its value; a fast rejection passes through', async () => {
    assert.equal(await withTimeout(Promise.resolve(7), 'fast', 30), 7);
    const own = new Error('own');
    await assert.rejects(withTimeout(Promise.reject(own), 'fast', 30), (e: unknown) => e === own);
  });

  test('the timer is cleared once the promise settles (does not keep the process alive)', async () => {
    // With a 1 h timeout left pending, node:test would wait for it; clearing makes this return at once.
    const t0 = performance.now();
    assert.equal(await withTimeout(new Promise((r) => setTimeout(() => r('ok'), 5)), 'fast', 3_600_000), 'ok');
    assert.ok(performance.now() - t0 < 1000);
  });
});

// Plugins as users write them: files in a folder with no package.json anywhere above it (the temp
// folder), importing the public surface as 'tenement', in ES module or CommonJS syntax.
const ROOT = join(import.meta.dirname, '../..');
const def = (name: string) => `{ name: '${name}', create() { return { apply() {} }; } }`;
const PLAIN: Record<string, string> = {
  'my-balancer.js': readFileSync(join(ROOT, 'docs/examples/sticky-first-balancer.js'), 'utf8'),
  'surface.js': `import { definePlugin, TenementError, SLOTS } from 'tenement';
export const isServerError = (e) => e instanceof TenementError;
export const makeError = () => new TenementError('TEN_ERR_PLUGIN_FAILED', ['surface', 'apply', 'no']);
export const slots = SLOTS;
export default definePlugin(${def('surface')});\n`,
  'uses-helper.js': `import { helperName } from './helper.js';\nexport default { name: helperName, create() { return { apply() {} }; } };\n`,
  'helper.js': `export const helperName = 'uses-helper';\n`,
  'top-level-await.js': `const name = await Promise.resolve('top-level-await');\nexport default { name, create() { return { apply() {} }; } };\n`,
  'plain.mjs': `export default ${def('plain-mjs')};\n`,
  'commonjs.js': `module.exports = ${def('commonjs')};\n`,
  'commonjs.cjs': `module.exports = ${def('commonjs-cjs')};\n`,
  'shebang.js': `#!/usr/bin/env node\nmodule.exports = ${def('shebang')};\n`,
  'exports-fields.js': `exports.name = 'exports-fields';\nexports.create = () => ({ apply() {} });\n`,
  'commonjs-import.js': `module.exports = {
  name: 'commonjs-import',
  create() { return { async apply(out) { const { TenementError } = await import('tenement'); out.TenementError = TenementError; } }; },
};\n`,
  'commonjs-require.js': `const { definePlugin } = require('tenement');\nmodule.exports = definePlugin(${def('commonjs-require')});\n`,
  'named-only.js': `export const plugin = ${def('named-only')};\n`,
  'deep.js': `import { Registry } from 'tenement/core/registry.ts';\nexport default ${def('deep')};\n`,
  'deep-package-json.js': `import pkg from 'tenement/package.json' with { type: 'json' };\nexport default ${def('deep-pkg')};\n`,
  'deep-path.js': `import { Registry } from ${JSON.stringify(join(ROOT, 'core/registry.ts'))};\nexport default ${def('deep-path')};\n`,
  'no-such-export.js': `import { definePlugin, Registry } from 'tenement';\nexport default definePlugin(${def('no-such-export')});\n`,
  'missing-file-import.js': `import { x } from './util';\nexport default ${def('missing-file-import')};\n`,
  'missing-package-import.js': `import leftPad from 'left-pad-no-such-zz';\nexport default ${def('missing-package-import')};\n`,
  'plugin.ts': `const name: string = 'typescript-plugin';\nexport default { name, create() { return { apply() {} }; } };\n`,
  // npm packages: exports maps with conditions, main, scoped, ES module syntax without "type"
  'node_modules/cond-import/package.json': '{ "name": "cond-import", "exports": { ".": { "require": "./index.cjs", "import": "./index.mjs" } } }\n',
  'node_modules/cond-import/index.cjs': `module.exports = ${def('cond-require')};\n`,
  'node_modules/cond-import/index.mjs': `export default ${def('cond-import')};\n`,
  'node_modules/cond-node/package.json': '{ "name": "cond-node", "exports": { "node": "./node.js", "default": "./default.js" } }\n',
  'node_modules/cond-node/node.js': `module.exports = ${def('cond-node')};\n`,
  'node_modules/cond-node/default.js': `module.exports = ${def('cond-default')};\n`,
  'node_modules/cond-default/package.json': '{ "name": "cond-default", "exports": { ".": [{ "browser": "./browser.js", "default": "./default.js" }] } }\n',
  'node_modules/cond-default/default.js': `module.exports = ${def('cond-default')};\n`,
  'node_modules/subpath-only/package.json': '{ "name": "subpath-only", "exports": { "./extra": "./extra.js" } }\n',
  'node_modules/subpath-only/extra.js': `module.exports = ${def('subpath-only')};\n`,
  'node_modules/@acme/balancer/package.json': '{ "name": "@acme/balancer", "main": "lib/main.js" }\n',
  'node_modules/@acme/balancer/lib/main.js': `import { definePlugin } from 'tenement';\nexport default definePlugin({ name: 'acme-balancer', provides: 'balancer', create() { return { apply() {} }; } });\n`,
};
let plain: string;

before(() => {
  plain = mkdtempSync(join(tmpdir(), 'tenement-plain-'));
  for (const [rel, text] of Object.entries(PLAIN)) {
    mkdirSync(join(plain, rel, '..'), { recursive: true });
    writeFileSync(join(plain, rel), text);
  }
  mkdirSync(join(plain, 'etc/tenement'), { recursive: true });
});
after(() => rmSync(plain, { recursive: true, force: true }));

const load = (use: string, from = plain) => importPlugin(use, from, BUILTINS);

describe('plugins as users write them, in a folder without package.json', () => {
  test('the plugin contract of docs/plugins.md saved as my-balancer.js loads', async () => {
    const d = await load('./my-balancer.js');
    assert.equal(d.name, 'sticky-first-balancer');
    assert.equal(d.provides, 'balancer');
  });

  test("'tenement' is the running server's core: errors are instanceof in both directions", async () => {
    assert.equal((await load('./surface.js')).name, 'surface');
    const mod = await import(pathToFileURL(join(plain, 'surface.js')).href);
    assert.equal(mod.slots, SLOTS);
    assert.ok(mod.makeError() instanceof TenementError, "the plugin's TenementError is ours");
    assert.equal(mod.isServerError(new TenementError('TEN_ERR_PLUGIN_FAILED', ['a', 'b', 'c'])), true, 'ours is the plugin\'s');
  });

  test('ES module .js files: with a relative import, with top-level await; .mjs', async () => {
    assert.equal((await load('./uses-helper.js')).name, 'uses-helper');
    assert.equal((await load('./top-level-await.js')).name, 'top-level-await');
    assert.equal((await load('./plain.mjs')).name, 'plain-mjs');
  });

  test('CommonJS: module.exports in .js and .cjs, exports.* fields, a #! line, and import(\'tenement\') from CommonJS', async () => {
    assert.equal((await load('./commonjs.js')).name, 'commonjs');
    assert.equal((await load('./commonjs.cjs')).name, 'commonjs-cjs');
    assert.equal((await load('./exports-fields.js')).name, 'exports-fields');
    assert.equal((await load('./shebang.js')).name, 'shebang', 'a #! line is no ES module syntax');
    const out: { TenementError?: unknown } = {};
    await (await load('./commonjs-import.js')).create({}).apply(out as never);
    assert.equal(out.TenementError, TenementError);
  });

  test('a path from another folder (as from /etc/tenement/tenement.toml) and an absolute path', async () => {
    assert.equal((await load('../../surface.js', join(plain, 'etc/tenement'))).name, 'surface');
    assert.equal((await load(join(plain, 'commonjs.js'), '/')).name, 'commonjs');
  });

  test('TypeScript plugin files load where tsx runs tenement (the tests do)', async () => {
    assert.equal((await load('./plugin.ts')).name, 'typescript-plugin');
  });
});

describe('npm plugin packages resolve as Node imports them (import-meta-resolve)', () => {
  test('"exports" conditions: import over require; node; default (in an array)', async () => {
    assert.equal((await load('cond-import')).name, 'cond-import');
    assert.equal((await load('cond-node')).name, 'cond-node');
    assert.equal((await load('cond-default')).name, 'cond-default');
  });

  test('a scoped package by "main", an ES module without "type", importing \'tenement\'', async () => {
    const d = await load('@acme/balancer');
    assert.equal(d.name, 'acme-balancer');
    assert.equal(d.provides, 'balancer');
  });

  test('from a folder below the node_modules (the packages of a parent folder)', async () => {
    assert.equal((await load('cond-import', join(plain, 'etc/tenement'))).name, 'cond-import');
  });

  test('TEN_ERR_PLUGIN_NOT_FOUND: a package whose "exports" has no entry for the package itself', async () => {
    await rejectsWith(load('subpath-only'), 'TEN_ERR_PLUGIN_NOT_FOUND', (e) => {
      assert.match(e.message, /package subpath-only exports nothing an import can load/);
    });
  });

  test('TEN_ERR_PLUGIN_NOT_FOUND: a package that is not installed says where to install it', async () => {
    await rejectsWith(load('tenement-plugin-nowhere-zz'), 'TEN_ERR_PLUGIN_NOT_FOUND', (e) => {
      assert.equal(e.message, `plugin tenement-plugin-nowhere-zz not found (no package tenement-plugin-nowhere-zz is installed in ${plain} or a folder above it: `
        + 'run `npm install tenement-plugin-nowhere-zz` there, or start a path with ./ to name a file)');
    });
  });
});

describe('a plugin that cannot load says exactly what to do', () => {
  test("deep imports: 'tenement/…' and core files by path are refused, with the reason", async () => {
    for (const [file, spec] of [['deep.js', 'tenement/core/registry.ts'], ['deep-package-json.js', 'tenement/package.json'], ['deep-path.js', join(ROOT, 'core/registry.ts')]]) {
      await rejectsWith(load(`./${file}`), 'TEN_ERR_PLUGIN_INVALID_EXPORT', (e) => {
        assert.equal(e.message, `plugin ./${file} has an invalid export: import '${spec}' in ${join(plain, file)} is refused: only 'tenement' itself is public (core/index.ts); `
          + "tenement's other modules are internals that change without notice. Import what you need from 'tenement', e.g. import { definePlugin, TenementError } from 'tenement'");
      });
    }
  });

  test("a name 'tenement' does not export", async () => {
    await rejectsWith(load('./no-such-export.js'), 'TEN_ERR_PLUGIN_INVALID_EXPORT', (e) => {
      assert.match(e.message, /'tenement' has no export Registry: a plugin may import only what core\/index\.ts \(the public surface\) exports/);
    });
  });

  test("require('tenement') in CommonJS: write an ES module, or import() it", async () => {
    await rejectsWith(load('./commonjs-require.js'), 'TEN_ERR_PLUGIN_INVALID_EXPORT', (e) => {
      assert.match(e.message, /calls require\('tenement'\), which CommonJS cannot resolve/);
      assert.match(e.message, /write the plugin as an ES module \(import \{ … \} from 'tenement'\), or use `const \{ … \} = await import\('tenement'\)`/);
    });
  });

  test('a definition exported by name only: add the default export', async () => {
    await rejectsWith(load('./named-only.js'), 'TEN_ERR_PLUGIN_INVALID_EXPORT', (e) => {
      assert.match(e.message, /its export `plugin` is a plugin definition, but tenement loads the default export: add `export default plugin`/);
    });
  });

  test('the file itself is missing: where it was looked for', async () => {
    await rejectsWith(load('./nope.js'), 'TEN_ERR_PLUGIN_NOT_FOUND', (e) => {
      assert.equal(e.message, `plugin ./nope.js not found (there is no file ${join(plain, 'nope.js')}: paths are relative to the folder of tenement.toml, ${plain})`);
    });
  });

  test("an import of the plugin's: a missing file (fix the path), a missing package (npm install)", async () => {
    await rejectsWith(load('./missing-file-import.js'), 'TEN_ERR_PLUGIN_NOT_FOUND', (e) => {
      assert.match(e.message, /missing-file-import\.js imports \S+\/util, which does not exist: fix the path \(ES modules need the file extension/);
    });
    await rejectsWith(load('./missing-package-import.js'), 'TEN_ERR_PLUGIN_NOT_FOUND', (e) => {
      assert.match(e.message, /missing-package-import\.js imports package left-pad-no-such-zz, which is not installed: run `npm install left-pad-no-such-zz` in /);
    });
  });
});

// bin/ten.js runs the sources with tsx's ESM-only register() when dist/ is stale. Under it, a .js
// ES module in a folder without package.json failed with "Cannot require() ES Module … in a cycle"
// (tsx declares it CommonJS); under `--import tsx`, as the tests run, it loaded. So: a child process.
test("under tsx's ESM-only register() (bin/ten.js on the sources) my-balancer.js loads, importing 'tenement'", async () => {
  const script = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};
register();
const { importPlugin } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'core/import-plugin.ts')).href)});
const out = [];
for (const use of ['./my-balancer.js', './surface.js', './commonjs.js']) {
  try { out.push((await importPlugin(use, ${JSON.stringify(plain)}, { plugins: {}, defaults: {} })).name); } catch (e) { out.push(e.message); }
}
console.log(JSON.stringify(out));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: plain, timeout: 60_000 });
  assert.deepEqual(JSON.parse(stdout), ['sticky-first-balancer', 'surface', 'commonjs']);
});

// Found by the config fuzz test (test/unit/fuzz-config.test.ts): an option create() refuses was
// reported at its table's line (`(plugins.metrics, tenement.toml:3)`), not at the option's key and
// line. A TenementError whose details name the option ({ option: 'listen' }) is located there.
test("an option create() refuses is reported at that option's key and line", async () => {
  const text = `${MIN}[plugins.metrics]\nuse = "prometheus-exporter"\npublic = true\nlisten = ""\n`;
  const err = await preparePlugins(parseConfig(text, join(tmpdir(), 'tenement.toml')), BUILTINS).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof TenementError, String(err));
  assert.equal(err.code, 'TEN_ERR_PLUGIN_INVALID_OPTIONS');
  assert.equal(err.details.key, 'plugins.metrics.listen');
  assert.equal(err.details.line, 6);
  assert.match(err.message, /listen "" is not an address.* \(plugins\.metrics\.listen, tenement\.toml:6\)$/);
});
