// Conformance suite for the `scaler` slot: every scaler plugin (built-in or third-party) must pass
// it. Call scalerConformance() from a *.test.ts file; it registers a node:test suite.
//
// The contract (docs/hooks.md#wake, docs/plugins.md): a scaler taps hooks.wake under its own name.
// When a request has nothing running to go to, the router awaits the hook; the scaler resolves with
// an instance that accepts connections (it started or thawed it), or undefined (the router answers
// 503, or 404 for an unknown id), or rejects with a TenementError whose code the client gets.
// Here that is checked against real app processes started by the real supervisor, in a world
// wired as `ten serve` wires it (world.ts), with every wait bounded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DNS_LABEL, ERRORS, TenementError, type ErrorCode, type Instance, type PluginDefinition, type WakeContext } from '../../core/index.ts';
import { assertRefusesUnknownOption, createWorld, FIXTURE_APP, getJson, OBSERVER, requestContext, sleep, toml, waitFor, within, type World } from './world.ts';

export interface ScalerConformanceOptions {
  /** The plugin's options table, as under [plugins.scaler] (the loader applies defaults). */
  options?: Record<string, unknown>;
  /** Opt-out: a balanced wake (`{service}.{domain}`, no instance id) whose service has only a
   *  sleeping instance resolves with it running. A scaler that only wakes direct requests may
   *  legitimately answer undefined there. */
  wakesBalanced?: boolean;
  /** Opt-out: with `spawn_on_request`, a wake for an unknown (valid) id creates that instance and
   *  resolves with it running. A scaler that never creates instances may set false. */
  spawnsOnRequest?: boolean;
  /** A wake whose start fails must reject within this many ms (default 10,000: the failure is
   *  reported when the start fails, not when a wait times out). */
  failBoundMs?: number;
  /** Opt-out: a wake whose start fails rejects with the plugin's own TenementError. false also
   *  accepts undefined (the router then answers 503 TEN_ERR_ROUTE_NO_INSTANCE). */
  rejectsFailedStart?: boolean;
}

/** Bound on a wake that has to start a process (node + the fixture, readiness, one probe). */
const WAKE_MS = 15_000;
const CONCURRENT = 20;
const DOMAIN = 'example.com';

/** One service per test, so no test sees another's instances. */
const SERVICES = `
${service('sleepy')}
${service('crowd')}
${service('pool')}
${service('closed')}
${service('ondemand', 'spawn_on_request = true')}
${service('broken', 'env = { INSTANCE = "{name}:{id}", FAIL_AT_START = "1" }')}
${service('slow', 'env = { INSTANCE = "{name}:{id}", START_DELAY_MS = "2500" }')}
`;

/** A service of the fixture app: health path, no restarts (a failed start stays failed, the
 *  same for every scaler), short stop_timeout; `extra` lines may override env. */
function service(name: string, extra = ''): string {
  return `[service.${name}]
args = [${toml(process.execPath)}, ${toml(FIXTURE_APP)}]
health = "/health"
restart = "never"
stop_timeout = 2
startup_timeout = 10
${extra.includes('env =') ? '' : 'env = { INSTANCE = "{name}:{id}" }'}
${extra}
`;
}

export function scalerConformance(name: string, load: () => Promise<PluginDefinition>, opts: ScalerConformanceOptions = {}): void {
  const failBoundMs = opts.failBoundMs ?? 10_000;
  describe(`scaler conformance: ${name}`, { timeout: 120_000 }, () => {
    let def: PluginDefinition;
    let world: World;
    /** prepareSpawn calls per instance key: one per process started. */
    const spawns = new Map<string, number>();

    before(async () => {
      def = await load();
      world = await createWorld({ def, slot: 'scaler', options: opts.options, settings: `domain = ${toml(DOMAIN)}`, services: SERVICES });
      world.hooks.prepareSpawn.tap({ name: OBSERVER, stage: 1000 }, (spec) => {
        spawns.set(spec.instance.key, (spawns.get(spec.instance.key) ?? 0) + 1);
        return spec;
      });
    });

    after(async () => { await world?.close(); });

    /** The wake hook as the router calls it: for `{id}.{service}.{domain}`, or `{service}.{domain}`. */
    const wake = (w: World, service: string, instanceId?: string): Promise<Instance | undefined> => {
      const host = instanceId === undefined ? `${service}.${DOMAIN}` : `${instanceId}.${service}.${DOMAIN}`;
      const ctx: WakeContext = { service, client: '127.0.0.1', ctx: requestContext(host) };
      if (instanceId !== undefined) ctx.instanceId = instanceId;
      return w.hooks.wake.promise(ctx);
    };

    /** A sleeping instance as ten serve restores one (created, then `idle`: never started). */
    const asleep = (w: World, service: string, id: string): Instance => {
      const inst = w.supervisor.create(service, id, 100);
      w.registry.transition(inst, 'idle', 'conformance: restored asleep');
      return inst;
    };

    /** `inst` is running and its app answers on its port as that instance. */
    async function assertServing(inst: Instance | undefined, key: string): Promise<void> {
      assert.ok(inst, `the wake resolved with nothing for ${key}`);
      assert.equal(inst.key, key);
      assert.equal(inst.state, 'running', `${key} is ${inst.state}`);
      assert.ok(inst.port !== null && inst.pid !== null, `${key} has no process (port ${inst.port}, pid ${inst.pid})`);
      const r = await getJson<{ instance: string; pid: number }>(inst.port, '/');
      assert.equal(r.status, 200);
      assert.equal(r.body.instance, key, 'the app on its port is that instance');
      assert.equal(r.body.pid, inst.pid, 'the app answering is the process the registry records');
    }

    /** The error a rejected wake must carry: the plugin's own TenementError, not a generic Error
     *  (which the hook would wrap as TEN_ERR_PLUGIN_FAILED). */
    function assertOwnCode(err: unknown, what: string, serverSide = true): asserts err is TenementError {
      assert.ok(err instanceof TenementError, `${what}: rejected with ${String(err)}, not a TenementError`);
      assert.notEqual(err.code, 'TEN_ERR_PLUGIN_FAILED', `${what}: the tap threw a plain error (${(err.cause as Error)?.message}); throw a TenementError with a code`);
      assert.ok(Object.hasOwn(ERRORS, err.code), `${what}: ${err.code} is not in the error catalog`);
      if (serverSide) assert.ok(ERRORS[err.code as ErrorCode].status >= 500, `${what}: ${err.code} is not a 5xx (the request was fine; the start failed)`);
    }

    test('definition: a DNS-label name, provides "scaler", options validated by the loader', async () => {
      assert.match(def.name, DNS_LABEL);
      assert.equal(def.provides, 'scaler');
      const inst = def.create(world.options);
      assert.equal(typeof inst.apply, 'function');
      if (inst.dispose !== undefined) assert.equal(typeof inst.dispose, 'function');
      await assertRefusesUnknownOption(def, 'scaler', opts.options);
    });

    test('apply() taps hooks.wake under the plugin name', () => {
      const names = world.hooks.wake.taps.map((t) => t.name);
      assert.ok(names.includes(def.name), `wake taps: ${JSON.stringify(names)}`);
      for (const hook of Object.values(world.hooks)) {
        for (const t of hook.taps) assert.ok(t.name === def.name || t.name === 'tenement' || t.name === OBSERVER, `a tap named ${t.name}`);
      }
    });

    test('a direct wake of a sleeping (idle) instance resolves with it running, its app answering', { timeout: WAKE_MS + 5000 }, async () => {
      const inst = asleep(world, 'sleepy', 'a1');
      const woken = await within(WAKE_MS, 'wake sleepy:a1', wake(world, 'sleepy', 'a1'));
      assert.equal(woken, inst, 'the registry\'s instance itself');
      await assertServing(woken, 'sleepy:a1');
      assert.equal(spawns.get('sleepy:a1'), 1, 'one process started');
    });

    test(`${CONCURRENT} concurrent wakes of one instance put to sleep start exactly one process and all resolve with it`, { timeout: 2 * WAKE_MS + 5000 }, async () => {
      const inst = world.supervisor.create('crowd', 'c1', 100);
      await within(WAKE_MS, 'start crowd:c1', world.supervisor.start(inst, 'conformance'));
      assert.equal(inst.state, 'running');
      const firstPid = inst.pid;
      await within(WAKE_MS, 'put crowd:c1 to sleep', world.supervisor.stop(inst, 'idle', 'conformance: put to sleep'));
      assert.equal(inst.state, 'idle');
      const before = spawns.get('crowd:c1');
      let starting = 0;
      world.hooks.transition.tap(OBSERVER, (t) => { if (t.instance === inst && t.to === 'starting') starting++; });
      const woken = await within(WAKE_MS, `${CONCURRENT} wakes of crowd:c1`,
        Promise.all(Array.from({ length: CONCURRENT }, () => wake(world, 'crowd', 'c1'))));
      for (const w of woken) assert.equal(w, inst, 'every wake resolves with the same instance');
      assert.equal(spawns.get('crowd:c1')! - before!, 1, 'exactly one process started for all the wakes');
      assert.equal(starting, 1, 'one start (one transition to starting)');
      assert.notEqual(inst.pid, firstPid);
      await assertServing(inst, 'crowd:c1');
    });

    test(`a balanced wake (no instance id) of a service whose only instance sleeps ${opts.wakesBalanced === false ? 'resolves with it running or undefined (opted out)' : 'resolves with it running'}`, { timeout: WAKE_MS + 5000 }, async () => {
      asleep(world, 'pool', 'p1');
      const woken = await within(WAKE_MS, 'balanced wake of pool', wake(world, 'pool'));
      if (opts.wakesBalanced === false && woken === undefined) return;
      await assertServing(woken, 'pool:p1');
    });

    test('a wake for an unknown id of a service without spawn_on_request resolves undefined and creates nothing', async () => {
      const woken = await within(5000, 'wake of closed:ghost', wake(world, 'closed', 'ghost'));
      assert.equal(woken, undefined);
      assert.equal(world.registry.get('closed', 'ghost'), undefined);
      assert.deepEqual(world.registry.list('closed'), []);
    });

    test(`with spawn_on_request, a wake for an unknown id ${opts.spawnsOnRequest === false ? 'may create it (opted out)' : 'creates it and resolves with it running'}; an id that is no DNS label creates nothing`, { timeout: WAKE_MS + 5000 }, async () => {
      // Not a DNS label: no instance may be created for it, whatever the wake answers.
      await within(5000, 'wake of ondemand:Bad_Id', wake(world, 'ondemand', 'Bad_Id')).then(
        (w) => assert.equal(w, undefined),
        (err: unknown) => assertOwnCode(err, 'wake of an invalid id', false));
      assert.equal(world.registry.list('ondemand').length, 0, 'nothing created for an invalid id');
      const woken = await within(WAKE_MS, 'wake of ondemand:fresh', wake(world, 'ondemand', 'fresh'));
      if (opts.spawnsOnRequest === false && woken === undefined) return;
      assert.equal(woken, world.registry.get('ondemand', 'fresh'), 'the instance is in the registry');
      await assertServing(woken, 'ondemand:fresh');
    });

    test(`a wake whose start fails (the app exits at once) ${opts.rejectsFailedStart === false ? 'rejects with a TenementError or resolves undefined' : 'rejects with a TenementError with its own code'} within ${failBoundMs} ms`, { timeout: failBoundMs + 10_000 }, async () => {
      const inst = asleep(world, 'broken', 'b1');
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        wake(world, 'broken', 'b1').then((value) => ({ value }), (error: unknown) => ({ error })),
        new Promise<{ late: true }>((r) => { timer = setTimeout(() => r({ late: true }), failBoundMs); }),
      ]).finally(() => clearTimeout(timer));
      const ms = performance.now() - t0;
      if ('late' in outcome) assert.fail(`the wake was still pending after ${failBoundMs} ms: a failed start must be answered when it fails`);
      if ('error' in outcome) {
        assertOwnCode(outcome.error, `a failed start (after ${Math.round(ms)} ms)`);
      } else {
        assert.ok(opts.rejectsFailedStart === false, `resolved with ${outcome.value?.key} (${outcome.value?.state}) instead of rejecting`);
        assert.equal(outcome.value, undefined, 'a failed start resolves with no instance');
      }
      assert.ok((spawns.get('broken:b1') ?? 0) >= 1, 'a start was attempted');
      // the failure leaves no process and no instance claiming to run
      await waitFor('broken:b1 to settle', () => inst.pid === null && inst.state !== 'starting', 5000);
      assert.notEqual(inst.state, 'running');
    });

    test('dispose() releases every waiting wake with a TenementError', { timeout: WAKE_MS + 10_000 }, async () => {
      // its own world: dispose() ends the plugin
      const w = await createWorld({ def, slot: 'scaler', options: opts.options, settings: `domain = ${toml(DOMAIN)}`, services: SERVICES });
      try {
        const inst = asleep(w, 'slow', 's1'); // takes 2.5 s to listen: the wakes wait meanwhile
        const waits = Array.from({ length: 5 }, () => wake(w, 'slow', 's1').then(
          (value) => ({ value }), (error: unknown) => ({ error })));
        await waitFor('slow:s1 to be starting', () => inst.state === 'starting', 5000);
        await sleep(50);
        assert.equal(inst.state, 'starting', 'the app is not up yet');
        assert.equal(typeof w.plugin.dispose, 'function', 'wakes are waiting: the plugin needs a dispose() that releases them');
        await within(5000, 'dispose()', w.dispose());
        const outcomes = await within(1000, 'the waiting wakes after dispose()', Promise.all(waits));
        for (const o of outcomes) {
          assert.ok('error' in o, `a wake resolved with ${(o as { value?: Instance }).value?.key} after dispose()`);
          assertOwnCode(o.error, 'a wake released by dispose()');
        }
      } finally {
        await w.close();
      }
    });
  });
}
