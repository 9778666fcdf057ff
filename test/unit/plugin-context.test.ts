// The narrowed plugin context at run time: what a JavaScript plugin (no types to stop it) may not
// do fails with TEN_ERR_PLUGIN_FORBIDDEN naming the plugin; what it may do works. The compile-time
// half is test/types/plugin-surface.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../core/config.ts';
import { TenementError } from '../../core/errors.ts';
import { createHooks } from '../../core/hooks.ts';
import { createPluginContext, deepFreeze } from '../../core/plugin-context.ts';
import { Registry } from '../../core/registry.ts';
import { Store } from '../../core/store.ts';
import { Supervisor } from '../../core/supervisor.ts';

const dir = mkdtempSync(join(tmpdir(), 'tenement-ctx-'));
const store = new Store(join(dir, 'data'));
after(() => { store.close(); rmSync(dir, { recursive: true, force: true }); });

type Fn = (...a: unknown[]) => unknown;

function world(name = 'my-plugin') {
  const log = pino({ level: 'silent' });
  const hooks = createHooks(log);
  const registry = new Registry(hooks, store);
  const parsed = parseConfig('[service.api]\ncommand = "node app.js"\n', join(dir, 'tenement.toml'));
  const config = deepFreeze(parsed);
  const control = new Supervisor({ config: parsed, registry, hooks, log, probe: async () => ({ ok: true, detail: 'test', latencyMs: 0 }) });
  const ctx = createPluginContext(name, { hooks, registry, control, config, log, store: (n) => store.pluginStore(n), routes: { list: [], mounted: false } });
  // a JavaScript plugin sees an untyped object
  return { hooks, registry, ctx, js: ctx as unknown as { hooks: Record<string, Record<string, Fn>>; registry: Record<string, Fn> } };
}

function forbidden(fn: () => unknown, what: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TenementError, String(err));
    assert.equal(err.code, 'TEN_ERR_PLUGIN_FORBIDDEN');
    assert.match(err.message, /^plugin my-plugin may not /);
    assert.match(err.message, what);
    return true;
  });
}

test('calling or intercepting a hook is refused with a code', () => {
  const { js } = world();
  forbidden(() => js.hooks.selectInstance.call([], {}), /call the selectInstance hook \(call\): only the core calls hooks/);
  forbidden(() => js.hooks.wake.promise({}), /call the wake hook \(promise\)/);
  forbidden(() => js.hooks.ready.callAsync(() => {}), /call the ready hook \(callAsync\)/);
  forbidden(() => js.hooks.transition.intercept({}), /intercept the transition hook/);
});

test("tapping under another plugin's name, or the core's, is refused; the plugin's own name is stamped", () => {
  const { ctx, hooks, js } = world();
  forbidden(() => js.hooks.selectInstance.tap('weighted-balancer', () => undefined), /tap selectInstance as "weighted-balancer": a plugin taps under its own name, "my-plugin"/);
  forbidden(() => js.hooks.probe.tapPromise({ name: 'tenement', stage: -1 }, async () => undefined), /the core's own name/);
  ctx.hooks.selectInstance.tap('my-plugin', (c) => c[0]);
  ctx.hooks.wake.tapPromise({ stage: -5 } as { name?: string; stage: number }, async () => undefined);
  ctx.hooks.ready.tapAsync(ctx.name, (cb) => cb());
  assert.deepEqual(hooks.selectInstance.taps.map((t) => t.name), ['my-plugin']);
  assert.deepEqual(hooks.wake.taps.map((t) => [t.name, t.stage]), [['my-plugin', -5]]);
  assert.deepEqual(hooks.ready.taps.map((t) => [t.name, t.type]), [['my-plugin', 'async']]);
});

test('the registry view reads, refuses writes with a pointer to ctx.instances, and is frozen', () => {
  const { ctx, registry, js } = world();
  const inst = registry.create('api', 'a', 50, false);
  assert.equal(ctx.registry.get('api', 'a'), inst);
  assert.deepEqual(ctx.registry.list('api'), [inst]);
  assert.throws(() => ctx.registry.require('api', 'nope'), { code: 'TEN_ERR_INSTANCE_NOT_FOUND' });
  forbidden(() => js.registry.setWeight(inst, 0), /write the registry directly \(registry\.setWeight\): ask ctx\.instances\.setWeights instead/);
  forbidden(() => js.registry.create('api', 'b', 0), /registry\.create/);
  forbidden(() => js.registry.transition(inst, 'stopped', 'x'), /registry\.transition/);
  assert.equal(inst.weight, 50);
  ctx.instances.setWeights([[inst, 7]], 'through the control');
  assert.equal(inst.weight, 7);
  assert.throws(() => { (ctx.registry as unknown as Record<string, unknown>).get = () => undefined; }, TypeError);
  assert.throws(() => { (ctx as unknown as Record<string, unknown>).hooks = {}; }, TypeError);
});

test('the config is deeply frozen', () => {
  const { ctx } = world();
  const config = ctx.config as unknown as { settings: { port: number }; services: Record<string, { argv: string[] }> };
  assert.throws(() => { config.settings.port = 1; }, TypeError);
  assert.throws(() => { config.services.api.argv.push('--evil'); }, TypeError);
  assert.equal(config.settings.port, 8080);
});

test("a plugin's store is its own SQLite file, opened on first use", () => {
  const { ctx } = world('store-user');
  ctx.store.exec('CREATE TABLE IF NOT EXISTS store_user_things (n INTEGER)');
  ctx.store.prepare('INSERT INTO store_user_things VALUES (?)').run(42);
  assert.deepEqual(ctx.store.prepare('SELECT n FROM store_user_things').all(), [{ n: 42 }]);
  // the core's tables are not in it
  assert.throws(() => ctx.store.prepare('SELECT * FROM tokens').all(), /no such table: tokens/);
  assert.deepEqual(store.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'store_user_things'").get(), { n: 0 });
});

test("tables a plugin kept in tenement.db move into its own file once, rows and AUTOINCREMENT kept", () => {
  store.db.exec(`CREATE TABLE legacy_plugin_log (id INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT NOT NULL);
    INSERT INTO legacy_plugin_log (msg) VALUES ('one'), ('two');`);
  const { ctx } = world('legacy-plugin');
  assert.deepEqual(ctx.store.prepare('SELECT id, msg FROM legacy_plugin_log ORDER BY id').all(), [{ id: 1, msg: 'one' }, { id: 2, msg: 'two' }]);
  ctx.store.prepare("INSERT INTO legacy_plugin_log (msg) VALUES ('three')").run();
  assert.deepEqual(ctx.store.prepare("SELECT id FROM legacy_plugin_log WHERE msg = 'three'").get(), { id: 3 });
  assert.deepEqual(store.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'legacy_plugin_log'").get(), { n: 0 });
});


test("ctx.instances is the supervisor's InstanceControl and nothing else of it; it refuses what would corrupt the registry", async () => {
  const { ctx, registry } = world();
  assert.deepEqual(Object.keys(ctx.instances).sort(), ['create', 'probe', 'remove', 'resume', 'setWeights', 'start', 'stop', 'suspend', 'transition']);
  const loose = ctx.instances as unknown as Record<string, unknown>;
  assert.equal(loose.d, undefined, "the supervisor's dependencies (hooks, registry) are out of reach");
  assert.equal(loose.stopAll, undefined);
  assert.throws(() => ctx.instances.create('ghost', 'x', 10), { code: 'TEN_ERR_INSTANCE_UNKNOWN_SERVICE' });
  const inst = ctx.instances.create('api', 'c1', 50);
  assert.equal(registry.get('api', 'c1'), inst);
  // a process that exists (made up here: pid set) cannot be forgotten
  (inst as { pid: number | null }).pid = process.pid;
  assert.throws(() => ctx.instances.remove(inst), { code: 'TEN_ERR_INSTANCE_RUNNING' });
  (inst as { pid: number | null }).pid = null;
  ctx.instances.remove(inst);
  assert.equal(registry.get('api', 'c1'), undefined);
  // a removed (or made-up) instance is never started again
  await assert.rejects(ctx.instances.start(inst, 'test'), { code: 'TEN_ERR_INSTANCE_NOT_FOUND' });
  assert.throws(() => ctx.instances.remove(inst), { code: 'TEN_ERR_INSTANCE_NOT_FOUND' });
});
