// The plugin loader against the real built-ins and real plugin files in a temp dir.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../core/config.ts';
import { type ErrorCode, TenementError } from '../../core/errors.ts';
import { importPlugin, LOAD_TIMEOUT_MS, resolvePlugins, withTimeout } from '../../core/loader.ts';
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
  test('defaults fill balancer, isolation, scaler and workflows, in slot order, with default options', async () => {
    const list = await resolve();
    assert.deepEqual(list.map((p) => [p.slot, p.def.name, p.use]), [
      ['balancer', 'weighted-balancer', 'weighted-balancer'],
      ['isolation', 'process-isolation', 'process-isolation'],
      ['scaler', 'idle-scaler', 'idle-scaler'],
      ['workflows', 'deploy-workflows', 'deploy-workflows'],
    ]);
    assert.equal(list[0].def, BUILTINS.plugins['weighted-balancer']);
    assert.equal(list[2].def, BUILTINS.plugins['idle-scaler']);
    assert.equal(list[3].def, BUILTINS.plugins['deploy-workflows']);
    assert.deepEqual(list.map((p) => p.options), [
      {}, {}, { queue_size: 1000, wait_timeout: 30, check_interval: 0.5, ready: 'health' },
      { target_header: 'x-tenement-instance', target_cookie: 'tenement-instance', sticky_cookie: 'tenement-sticky', shadow_body_limit: 65536 },
    ]);
  });

  test('[plugins.scaler] options are checked and defaults filled in; use = false leaves no scaler', async () => {
    const list = await resolve('[plugins.scaler]\nuse = "idle-scaler"\nqueue_size = 5\nready = "port"\n');
    assert.equal(list[2].slot, 'scaler');
    assert.deepEqual(list[2].options, { queue_size: 5, wait_timeout: 30, check_interval: 0.5, ready: 'port' });
    await rejectsWith(resolve('[plugins.scaler]\nuse = "idle-scaler"\nqueue_size = 0\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => assert.match(e.message, /queue_size/));
    await rejectsWith(resolve('[plugins.scaler]\nuse = "idle-scaler"\nready = "tcp"\n'), 'TEN_ERR_PLUGIN_INVALID_OPTIONS', (e) => assert.match(e.message, /ready/));
    assert.deepEqual((await resolve('[plugins.scaler]\nuse = false\n')).map((p) => p.def.name), ['weighted-balancer', 'process-isolation', 'deploy-workflows']);
  });

  test('[plugins.balancer] use = "least-connections" picks it', async () => {
    const list = await resolve('[plugins.balancer]\nuse = "least-connections"\n');
    assert.deepEqual(list.map((p) => p.def.name), ['least-connections', 'process-isolation', 'idle-scaler', 'deploy-workflows']);
    assert.equal(list[0].slot, 'balancer');
    assert.equal(list[0].def, BUILTINS.plugins['least-connections']);
  });

  test('use = false switches a slot off', async () => {
    assert.deepEqual((await resolve('[plugins.balancer]\nuse = false\n')).map((p) => p.def.name), ['process-isolation', 'idle-scaler', 'deploy-workflows']);
    assert.deepEqual((await resolve('[plugins.isolation]\nuse = false\n')).map((p) => p.def.name), ['weighted-balancer', 'idle-scaler', 'deploy-workflows']);
    assert.deepEqual((await resolve('[plugins.workflows]\nuse = false\n')).map((p) => p.def.name), ['weighted-balancer', 'process-isolation', 'idle-scaler']);
  });

  test('a slot with no default and no entry stays empty', async () => {
    const list = await resolve();
    assert.deepEqual(SLOTS.filter((s) => BUILTINS.defaults[s] === undefined), ['metrics']);
    assert.ok(!list.some((p) => p.slot === 'metrics'));
    assert.deepEqual(list.map((p) => p.slot), ['balancer', 'isolation', 'scaler', 'workflows']);
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
    assert.deepEqual(list.map((p) => p.def.name), ['weighted-balancer', 'process-isolation', 'idle-scaler', 'deploy-workflows', 'fake-npm', 'audit']);
  });

  test('an extra plugin may fill a slot that is switched off', async () => {
    const list = await resolve('[plugins.balancer]\nuse = false\n[[plugins.extra]]\nuse = "./extra-balancer.js"\n');
    assert.deepEqual(list.map((p) => [p.def.name, p.slot]), [
      ['process-isolation', 'isolation'], ['idle-scaler', 'scaler'], ['deploy-workflows', 'workflows'], ['extra-balancer', 'balancer'],
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
    await rejectsWith(resolve('[plugins.balancer]\nuse = "process-isolation"\n'), 'TEN_ERR_PLUGIN_SLOT_MISMATCH', (e) => {
      assert.match(e.message, /process-isolation provides slot isolation, not balancer/);
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
      assertTableLine(e);
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
