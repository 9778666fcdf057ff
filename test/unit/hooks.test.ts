// The register interceptor of createHooks(): throwing taps on bail/waterfall hooks become
// TEN_ERR_PLUGIN_FAILED {plugin, hook}; on notification hooks they are logged and isolated.
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { TenementError } from '../../core/errors.ts';
import { createHooks } from '../../core/hooks.ts';
import type { Instance, RequestContext, SpawnSpec, Transition, WeightChange } from '../../core/types.ts';

/** Real hooks with a pino logger whose JSON lines are collected. */
function setup() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  const hooks = createHooks(pino({ level: 'error' }, sink));
  return { hooks, lines };
}

function instance(id = 'v1'): Instance {
  return {
    service: 'api', id, key: `api:${id}`, state: 'running', weight: 50, health: 'healthy', port: 30001, socket: null, pid: 1234,
    startedAt: 0, restartTimes: [], restarts: 0, inflight: 0, ejectedUntil: 0, lastExit: null, lastRequestAt: 0, suspended: null,
  };
}
const ctx = (): RequestContext => ({ req: new IncomingMessage(new Socket()), host: 'api.example.com', authority: 'api.example.com', path: '/', upgrade: false, start: 0 });

function isPluginFailed(plugin: string, hook: string, cause?: Error) {
  return (e: unknown) => {
    assert.ok(e instanceof TenementError, `expected a TenementError, got ${String(e)}`);
    assert.equal(e.code, 'TEN_ERR_PLUGIN_FAILED');
    assert.equal(e.statusCode, 500);
    assert.deepEqual(e.details, { plugin, hook });
    assert.ok(e.message.includes(plugin) && e.message.includes(hook), e.message);
    if (cause) {
      assert.equal(e.cause, cause);
      assert.ok(e.message.includes(cause.message), e.message);
    }
    return true;
  };
}

describe('createHooks(): the hooks object', () => {
  test('is frozen: hooks cannot be replaced or added', () => {
    const { hooks } = setup();
    assert.ok(Object.isFrozen(hooks));
    assert.throws(() => { (hooks as Record<string, unknown>).selectInstance = null; }, TypeError);
    assert.throws(() => { (hooks as Record<string, unknown>).myHook = {}; }, TypeError);
    assert.throws(() => { delete (hooks as Record<string, unknown>).transition; }, TypeError);
  });

  test('has the catalog of DESIGN §4 (and configReloaded, for ten reload)', () => {
    const { hooks } = setup();
    assert.deepEqual(Object.keys(hooks).sort(), [
      'configReloaded', 'event', 'filterCandidates', 'forward', 'prepareSpawn', 'probe', 'probeResult', 'ready', 'requestDone', 'resolveTarget',
      'selectInstance', 'shutdown', 'transition', 'wake', 'weights',
    ]);
  });

  test('each createHooks() call returns independent hooks', () => {
    const a = setup().hooks;
    const b = setup().hooks;
    a.selectInstance.tap('x', () => instance());
    assert.equal(b.selectInstance.call([], ctx()), undefined);
  });
});

describe('bail / waterfall hooks: a throwing tap → TEN_ERR_PLUGIN_FAILED {plugin, hook}', () => {
  test('selectInstance (SyncBailHook, tap)', () => {
    const { hooks } = setup();
    const cause = new Error('balancer exploded');
    hooks.selectInstance.tap('bad-balancer', () => { throw cause; });
    assert.throws(() => hooks.selectInstance.call([instance()], ctx()), isPluginFailed('bad-balancer', 'selectInstance', cause));
  });

  test('selectInstance: taps before the throwing one still bail normally', () => {
    const { hooks } = setup();
    const a = instance('a');
    hooks.selectInstance.tap('first', (c) => (c.length > 0 ? c[0] : undefined));
    hooks.selectInstance.tap('bad', () => { throw new Error('x'); });
    assert.equal(hooks.selectInstance.call([a], ctx()), a);
    assert.throws(() => hooks.selectInstance.call([], ctx()), isPluginFailed('bad', 'selectInstance'));
  });

  test('filterCandidates (SyncWaterfallHook, tap)', () => {
    const { hooks } = setup();
    hooks.filterCandidates.tap('sticky', (c) => c);
    hooks.filterCandidates.tap('bad-filter', () => { throw new TypeError('nope'); });
    assert.throws(() => hooks.filterCandidates.call([instance()], ctx()), isPluginFailed('bad-filter', 'filterCandidates'));
  });

  test('a thrown non-Error value is wrapped too', () => {
    const { hooks } = setup();
    hooks.selectInstance.tap('throws-string', () => { throw 'just a string'; });
    assert.throws(() => hooks.selectInstance.call([], ctx()), (e: unknown) =>
      isPluginFailed('throws-string', 'selectInstance')(e) && (e as Error).message.includes('just a string'));
  });

  test('resolveTarget (AsyncSeriesBailHook, tapPromise) rejects with PLUGIN_FAILED', async () => {
    const { hooks } = setup();
    const cause = new Error('path router broke');
    hooks.resolveTarget.tapPromise('path-router', async () => { throw cause; });
    await assert.rejects(hooks.resolveTarget.promise(ctx()), isPluginFailed('path-router', 'resolveTarget', cause));
  });

  test('resolveTarget: a sync tap on the async hook is wrapped too', async () => {
    const { hooks } = setup();
    hooks.resolveTarget.tap('sync-router', () => { throw new Error('sync boom'); });
    await assert.rejects(hooks.resolveTarget.promise(ctx()), isPluginFailed('sync-router', 'resolveTarget'));
  });

  test('resolveTarget: a tapAsync callback error is wrapped too', async () => {
    const { hooks } = setup();
    const cause = new Error('callback boom');
    hooks.resolveTarget.tapAsync('cb-router', (_c, cb) => { cb(cause); });
    await assert.rejects(hooks.resolveTarget.promise(ctx()), isPluginFailed('cb-router', 'resolveTarget', cause));
  });

  test('resolveTarget: a working tap still bails with its value through the interceptor', async () => {
    const { hooks } = setup();
    hooks.resolveTarget.tapPromise('ok', async () => ({ kind: 'management' as const }));
    hooks.resolveTarget.tapPromise('never', async () => { throw new Error('must not run'); });
    assert.deepEqual(await hooks.resolveTarget.promise(ctx()), { kind: 'management' });
  });

  test('prepareSpawn (AsyncSeriesWaterfallHook, tapPromise) rejects with PLUGIN_FAILED', async () => {
    const { hooks } = setup();
    hooks.prepareSpawn.tapPromise('bad-isolation', async () => { throw new Error('unshare missing'); });
    const spec = { argv: ['node'], env: {}, cwd: '/', detached: false, instance: instance() } as unknown as SpawnSpec;
    await assert.rejects(hooks.prepareSpawn.promise(spec), isPluginFailed('bad-isolation', 'prepareSpawn'));
  });

  test('wake: a TenementError from a promise tap keeps its own code (503 with the error\'s code)', async () => {
    const { hooks } = setup();
    const own = new TenementError('TEN_ERR_INSTANCE_SPAWN_FAILED', ['api:v1', 'ENOENT']);
    hooks.wake.tapPromise('scaler', async () => { throw own; });
    await assert.rejects(hooks.wake.promise({ service: 'api', client: '127.0.0.1', ctx: ctx() }), (e: unknown) => e === own);
  });

  test('wake: a TenementError from a sync tap keeps its own code too (same as tapPromise)', async () => {
    const { hooks } = setup();
    const own = new TenementError('TEN_ERR_INSTANCE_SPAWN_FAILED', ['api:v1', 'ENOENT']);
    hooks.wake.tap('sync-scaler', () => { throw own; });
    await assert.rejects(hooks.wake.promise({ service: 'api', client: '127.0.0.1', ctx: ctx() }), (e: unknown) => {
      assert.equal((e as TenementError).code, 'TEN_ERR_INSTANCE_SPAWN_FAILED');
      return true;
    });
  });
});

describe('notification hooks: a throwing tap is logged and isolated', () => {
  test('requestDone (SyncHook): later taps run, call does not throw, the failure is logged', () => {
    const { hooks, lines } = setup();
    const ran: string[] = [];
    hooks.requestDone.tap('before', () => { ran.push('before'); });
    hooks.requestDone.tap('bad-exporter', () => { throw new Error('metrics down'); });
    hooks.requestDone.tap('after', () => { ran.push('after'); });
    assert.doesNotThrow(() => hooks.requestDone.call(ctx(), { status: 200, durationMs: 1 }));
    assert.deepEqual(ran, ['before', 'after']);
    assert.equal(lines.length, 1);
    assert.equal(lines[0].plugin, 'bad-exporter');
    assert.equal(lines[0].hook, 'requestDone');
    assert.match(String((lines[0].err as { message?: string })?.message), /metrics down/);
  });

  test('transition (SyncHook): later taps run, call does not throw', () => {
    const { hooks, lines } = setup();
    const seen: Transition[] = [];
    hooks.transition.tap('bad-audit', () => { throw new Error('disk full'); });
    hooks.transition.tap('dashboard', (t) => { seen.push(t); });
    const t: Transition = { instance: instance(), from: 'starting', to: 'running', reason: 'ready' };
    assert.doesNotThrow(() => hooks.transition.call(t));
    assert.deepEqual(seen, [t]);
    assert.equal(lines.length, 1);
    assert.deepEqual([lines[0].plugin, lines[0].hook], ['bad-audit', 'transition']);
  });

  test('forward (SyncHook): later taps run, call does not throw, the failure is logged', () => {
    const { hooks, lines } = setup();
    const seen: Array<[RequestContext, Instance]> = [];
    hooks.forward.tap('bad-shadow', () => { throw new Error('mirror down'); });
    hooks.forward.tap('good', (c, i) => { seen.push([c, i]); });
    const c = ctx();
    const inst = instance();
    assert.doesNotThrow(() => hooks.forward.call(c, inst));
    assert.equal(seen.length, 1);
    assert.equal(seen[0][0], c);
    assert.equal(seen[0][1], inst);
    assert.equal(lines.length, 1);
    assert.deepEqual([lines[0].plugin, lines[0].hook], ['bad-shadow', 'forward']);
    assert.match(String((lines[0].err as { message?: string })?.message), /mirror down/);
  });

  test('weights (SyncHook): later taps run, call does not throw, the failure is logged', () => {
    const { hooks, lines } = setup();
    const seen: Array<[WeightChange[], string]> = [];
    hooks.weights.tap('bad-history', () => { throw new Error('db locked'); });
    hooks.weights.tap('good', (changes, reason) => { seen.push([changes, reason]); });
    const changes: WeightChange[] = [{ instance: instance('a'), from: 100, to: 90 }, { instance: instance('b'), from: 0, to: 10 }];
    assert.doesNotThrow(() => hooks.weights.call(changes, 'canary step'));
    assert.deepEqual(seen, [[changes, 'canary step']]);
    assert.equal(seen[0][0], changes);
    assert.equal(lines.length, 1);
    assert.deepEqual([lines[0].plugin, lines[0].hook], ['bad-history', 'weights']);
    assert.match(String((lines[0].err as { message?: string })?.message), /db locked/);
  });

  test('probeResult (SyncHook): isolated', () => {
    const { hooks } = setup();
    let ran = false;
    hooks.probeResult.tap('bad', () => { throw new Error('x'); });
    hooks.probeResult.tap('good', () => { ran = true; });
    assert.doesNotThrow(() => hooks.probeResult.call(instance(), { ok: true, detail: 'HTTP 200', latencyMs: 1 }));
    assert.ok(ran);
  });

  test('shutdown (AsyncSeriesHook, tapPromise): isolated, later taps run', async () => {
    const { hooks, lines } = setup();
    const ran: string[] = [];
    hooks.shutdown.tapPromise('bad-timer', async () => { throw new Error('stop failed'); });
    hooks.shutdown.tapPromise('good-timer', async () => { ran.push('good'); });
    await hooks.shutdown.promise();
    assert.deepEqual(ran, ['good']);
    assert.deepEqual([lines[0]?.plugin, lines[0]?.hook], ['bad-timer', 'shutdown']);
  });

  test('shutdown (AsyncSeriesHook, tapAsync): a callback error is isolated too', async () => {
    const { hooks } = setup();
    const ran: string[] = [];
    hooks.shutdown.tapAsync('bad-cb', (cb) => { cb(new Error('stop failed')); });
    hooks.shutdown.tapAsync('good-cb', (cb) => { ran.push('good'); cb(); });
    await hooks.shutdown.promise();
    assert.deepEqual(ran, ['good']);
  });

  test('ready (AsyncSeriesHook) is not a notification: a throw aborts startup with PLUGIN_FAILED', async () => {
    const { hooks } = setup();
    hooks.ready.tapPromise('bad-start', async () => { throw new Error('port in use'); });
    await assert.rejects(hooks.ready.promise(), isPluginFailed('bad-start', 'ready'));
  });
});
