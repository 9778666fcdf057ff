// Conformance suite for the `isolation` slot: every isolation plugin (built-in or third-party)
// must pass it. Call isolationConformance() from a *.test.ts file; it registers a node:test suite.
//
// The contract (docs/hooks.md#preparespawn, docs/plugins.md): an isolation plugin declares the
// `levels` it serves (the values of a service's `isolation` key) and taps hooks.prepareSpawn under
// its own name, rewriting the spawn spec of services of those levels. Whatever it does, the app
// must still start from that spec and answer on its port, see the argv, environment and working
// directory its service configured, and end with its whole process tree when it is stopped or
// when it exits. Checked with real processes started by the real supervisor, in a world wired as
// `ten serve` wires it (world.ts); every wait is bounded and every process is ended.
//
// Each level must also keep the lifecycle the supervisor promises (test/fixtures/isolation-app.mjs):
// the app is spawned, serves, passes its health probe; a stop of an app that exits 0 on SIGTERM is
// quick and clean (code 0, well under stop_timeout); one that ignores SIGTERM is SIGKILLed after
// stop_timeout with its whole tree; a crash under restart = "always" runs again with a new pid; a
// grandchild started with setsid (out of the app's process group) does not survive a stop; and an
// app that daemonizes (a detached server, then its main process exits 0) is `failed` with
// TEN_ERR_ISOLATION_DAEMONIZED, its daemon ended. A plugin keeps this by keeping tenement-init in
// the rewritten spec (spec.wrap goes in front of it, spec.initOptions are its options).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DNS_LABEL, TenementError, type Instance, type PluginDefinition, type SpawnSpec } from '../../core/index.ts';
import { instanceEnv } from '../../core/spawn-env.ts';
import {
  assertRefusesUnknownOption, cmdlineOf, commOf, createWorld, descendants, getJson, isAlive, ISOLATION_APP, loadInto, OBSERVER, procStat, sleep,
  toml, TREE_APP, waitFor, within, type World,
} from './world.ts';

export interface IsolationConformanceOptions {
  /** The plugin's options table, as under [plugins.isolation] (the loader applies defaults). */
  options?: Record<string, unknown>;
  /** The levels to start real processes for (default: every declared level). A level that needs
   *  what the test machine lacks (root, user namespaces, a container runtime) may be left out. */
  runLevels?: string[];
  /** Environment variables the isolation may set or change (e.g. PATH in a sandbox); every other
   *  variable of the spec must reach the app with its value. */
  envMayChange?: string[];
  /** The app may run in another working directory (a chroot, a mount namespace). */
  cwdMayChange?: boolean;
  /** Opt-out: a spec of a service whose level is not the plugin's passes through unchanged. */
  passesOtherLevels?: boolean;
}

/** Bound on starting the fixture app (node, its child, readiness, one probe). */
const START_MS = 15_000;
/** What the app is given on its command line: the app must see exactly these. */
const ARGS = ['--conformance', 'a value with spaces', '$HOME;'];
/** An env value with a placeholder, quotes, a `$` and non-ASCII bytes. */
const MARK = 'mark {name}:{id} ✓ "quoted" $HOME';

/** The service name of the k-th declared level (levels are DNS labels, but service names stay short). */
const serviceOf = (k: number) => `lvl${k}`;
/** The lifecycle service of the k-th declared level (test/fixtures/isolation-app.mjs). */
const lifeOf = (k: number) => `life${k}`;
/** stop_timeout of the lifecycle services, in seconds: the grace of a stop before SIGKILL, and of
 *  what an app leaves behind when it exits (tenement-init --grace). */
const STOP_TIMEOUT = 2;
/** A graceful stop (the app exits 0 on SIGTERM, nothing left behind) takes well under
 *  stop_timeout: at most this share of it. */
const GRACEFUL_SHARE = 0.5;
/** [settings] of the world: a crash is restarted after 0.2 s. */
const SETTINGS = 'backoff_base = 0.2\nbackoff_max = 1\nmax_restarts = 50\n';

function services(levels: readonly string[], workdir: string): string {
  return levels.map((level, k) => `[service.${serviceOf(k)}]
args = [${[process.execPath, TREE_APP, ...ARGS].map(toml).join(', ')}]
workdir = ${toml(workdir)}
isolation = ${toml(level)}
health = "/health"
restart = "never"
stop_timeout = 2
startup_timeout = 10
env = { INSTANCE = "{name}:{id}", CONFORMANCE_MARK = ${toml(MARK)} }

[service.${lifeOf(k)}]
args = [${[process.execPath, ISOLATION_APP].map(toml).join(', ')}]
workdir = ${toml(workdir)}
isolation = ${toml(level)}
health = "/health"
restart = "always"
stop_timeout = ${STOP_TIMEOUT}
startup_timeout = 10
env = { INSTANCE = "{name}:{id}" }
`).join('\n');
}

interface WhoAmI { instance: string; pid: number; childPid: number | null; argv: string[]; cwd: string; env: Record<string, string> }

export function isolationConformance(name: string, load: () => Promise<PluginDefinition>, opts: IsolationConformanceOptions = {}): void {
  describe(`isolation conformance: ${name}`, { timeout: 180_000 }, () => {
    let def: PluginDefinition & { provides: 'isolation' };
    let world: World;
    let workdir: string;
    let levels: readonly string[] = [];
    /** Per instance key: the spec before any prepareSpawn tap ran, and after all of them. */
    const specs = new Map<string, { before: Snapshot; after: Snapshot }>();
    /** Every state change of the world's instances, in order. */
    const transitions: { key: string; to: string; reason: string }[] = [];
    let n = 0;

    before(async () => {
      const d = await load();
      assert.equal(d.provides, 'isolation', `${d.name} provides ${String(d.provides)}, not "isolation"`);
      def = d as typeof def;
      levels = Array.isArray(def.levels) ? def.levels : [];
      // the world's services, one per level; the working directory has a space in its name
      workdir = mkdtempSync(join(tmpdir(), 'tenement-conformance-workdir '));
      // mkdtemp makes it 0700: an app run as another user (nobody under a root ten serve) must be
      // able to enter it, or tenement-init fails the start
      chmodSync(workdir, 0o755);
      world = await createWorld({ def, slot: 'isolation', options: opts.options, settings: SETTINGS, services: services(levels, workdir) });
      world.hooks.transition.tap(OBSERVER, ({ instance, to, reason }) => { transitions.push({ key: instance.key, to, reason }); });
      world.hooks.prepareSpawn.tap({ name: OBSERVER, stage: -1_000_000 }, (spec) => {
        specs.set(spec.instance.key, { before: snapshot(spec), after: snapshot(spec) });
        return spec;
      });
      world.hooks.prepareSpawn.tap({ name: OBSERVER, stage: 1_000_000 }, (spec) => {
        specs.get(spec.instance.key)!.after = snapshot(spec);
        return spec;
      });
    });

    after(async () => {
      await world?.close();
      if (workdir) rmSync(workdir, { recursive: true, force: true });
    });

    /** Start a new instance of the level's service through the supervisor, as ten serve does, and
     *  wait for the app's whole tree (it, its shell, the shell's sleep) to exist. */
    async function startTree(k: number): Promise<{ inst: Instance; who: WhoAmI; tree: number[] }> {
      const inst = world.supervisor.create(serviceOf(k), `i${n++}`, 100);
      await within(START_MS, `start ${inst.key}`, world.supervisor.start(inst, 'conformance'));
      assert.equal(inst.state, 'running', `${inst.key} is ${inst.state} (last exit: ${JSON.stringify(inst.lastExit)})`);
      assert.ok(inst.pid !== null && inst.port !== null);
      world.track(inst.pid);
      const r = await getJson<WhoAmI>(inst.port, '/whoami');
      assert.equal(r.status, 200, 'the app answers on its port');
      assert.equal(r.body.instance, inst.key);
      assert.ok(r.body.childPid, 'the app started its child');
      // the host's view: the spawned process and everything under it, down to the sleep
      const tree = await waitFor(`the process tree of ${inst.key}`, () => {
        const d = descendants(inst.pid!);
        return d.some((p) => p.comm === 'sleep') ? d : undefined;
      }, 5000);
      world.track(...tree.map((p) => p.pid));
      return { inst, who: r.body, tree: [inst.pid, ...tree.map((p) => p.pid)] };
    }

    const survivors = (pids: number[]) => pids.filter(isAlive).map((pid) => `${pid} (${commOf(pid)})`);

    test('definition: a DNS-label name, provides "isolation", declares levels (DNS labels), the loader holds services to them', async () => {
      assert.match(def.name, DNS_LABEL);
      assert.ok(Array.isArray(def.levels) && def.levels.length > 0, 'levels: a non-empty array');
      for (const l of def.levels) assert.match(l, DNS_LABEL, `level ${JSON.stringify(l)}`);
      assert.equal(new Set(def.levels).size, def.levels.length, 'no level twice');
      const inst = def.create(world.options);
      assert.equal(typeof inst.apply, 'function');
      if (inst.dispose !== undefined) assert.equal(typeof inst.dispose, 'function');
      // the loader reads `levels`: a service asking for a level the plugin does not declare stops
      // ten serve at load
      await assert.rejects(loadInto(def, 'isolation', opts.options ?? {}, `[service.other]\ncommand = "node app.js"\nisolation = "not-a-level-of-${def.name}"\n`),
        (err: unknown) => err instanceof TenementError && err.code === 'TEN_ERR_CONFIG_INVALID_VALUE' && err.message.includes('service.other.isolation'));
      await assertRefusesUnknownOption(def, 'isolation', opts.options);
    });

    test('apply() taps hooks.prepareSpawn under the plugin name', () => {
      const names = world.hooks.prepareSpawn.taps.map((t) => t.name);
      assert.ok(names.includes(def.name), `prepareSpawn taps: ${JSON.stringify(names)}`);
    });

    test(`a spec of a service whose isolation is not one of the plugin's levels ${opts.passesOtherLevels === false ? 'may be rewritten (opted out)' : 'passes through unchanged'}`, async () => {
      if (opts.passesOtherLevels === false) return;
      const svc = { ...world.config.services[serviceOf(0)], isolation: `not-a-level-of-${def.name}` };
      const inst = world.supervisor.create(serviceOf(0), `other${n++}`, 100);
      const dataDir = join(world.config.settings.data_dir, svc.name, inst.id);
      const spec: SpawnSpec = {
        service: svc as SpawnSpec['service'], instance: inst, argv: [...svc.argv], cwd: svc.workdir, wrap: [], initOptions: [],
        env: instanceEnv(svc as SpawnSpec['service'], inst.id, 41_234, dataDir, join(dataDir, 'app.sock')), dataDir, socketDir: dataDir,
      };
      const was = snapshot(spec);
      const out = await within(5000, 'prepareSpawn', world.hooks.prepareSpawn.promise(spec));
      assert.deepEqual(snapshot(out), was, 'the spec that comes out');
      assert.deepEqual(snapshot(spec), was, 'the spec passed in is not modified');
      world.supervisor.remove(inst);
    });

    /** The levels to run real processes for; known once load() has resolved. */
    const running = () => opts.runLevels ?? levels;

    test('every level to run is declared', () => {
      for (const l of running()) assert.ok(levels.includes(l), `runLevels has ${l}, which ${def.name} does not declare`);
    });

    test('each level: the app starts from the rewritten spec, answers on its port, and sees its argv, env and cwd', { timeout: 60_000, concurrency: true }, async (t) => {
      // the levels side by side: most of each is waiting (stop_timeout, the init's grace)
      await Promise.all(running().map((level) => t.test(`level "${level}"`, async () => {
          const { inst, who } = await startTree(levels.indexOf(level));
          const { before: spec, after: final } = specs.get(inst.key)!;
          // the rewritten spec keeps the original argv as its tail (a wrapper may go in front)
          assert.deepEqual(final.argv.slice(-spec.argv.length), spec.argv, `argv ${JSON.stringify(final.argv)} does not end with ${JSON.stringify(spec.argv)}`);
          // the app: its arguments (after node and the script), each variable of the spec with its
          // value, its working directory
          assert.deepEqual(who.argv, spec.argv.slice(2), 'the app\'s arguments');
          const mayChange = new Set(opts.envMayChange ?? []);
          for (const [key, value] of Object.entries(spec.env)) {
            if (!mayChange.has(key)) assert.equal(who.env[key], value, `env ${key} as the app sees it`);
          }
          if (!opts.cwdMayChange) assert.equal(realpathSync(who.cwd), realpathSync(spec.cwd), 'the app\'s working directory');
          await within(10_000, `stop ${inst.key}`, world.supervisor.stop(inst, 'stopped', 'conformance'));
        })));
    });

    test('each level: a stop ends the app\'s whole process tree (children that ignore SIGTERM included)', { timeout: 60_000, concurrency: true }, async (t) => {
      await Promise.all(running().map((level) => t.test(`level "${level}"`, async () => {
          const { inst, tree } = await startTree(levels.indexOf(level));
          await within(10_000, `stop ${inst.key}`, world.supervisor.stop(inst, 'stopped', 'conformance'));
          assert.equal(inst.state, 'stopped');
          await waitFor('the tree to end', () => survivors(tree).length === 0, 3000)
            .catch(() => assert.fail(`still alive after the stop: ${survivors(tree).join(', ')}`));
          // the app itself exited 0 on SIGTERM: its children needing the SIGKILL does not make it "killed by SIGKILL"
          assert.deepEqual([inst.lastExit?.code, inst.lastExit?.signal], [0, null], `last exit ${JSON.stringify(inst.lastExit)}`);
        })));
    });

    test('each level: when the app exits on its own, what it left behind in its tree is ended too', { timeout: 60_000, concurrency: true }, async (t) => {
      await Promise.all(running().map((level) => t.test(`level "${level}"`, async () => {
          const { inst, tree } = await startTree(levels.indexOf(level));
          await getJson(inst.port!, '/exit').catch(() => undefined); // answers, then exits 1
          await waitFor(`${inst.key} to be failed (restart = "never")`, () => inst.state === 'failed', 5000);
          await waitFor('the tree to end', () => survivors(tree).length === 0, 3000)
            .catch(() => assert.fail(`still alive after the app exited: ${survivors(tree).join(', ')}`));
        })));
    });

    // ------------------------------------------------------------------------------------------
    // The lifecycle every level must keep (test/fixtures/isolation-app.mjs, restart = "always",
    // stop_timeout = STOP_TIMEOUT): what an app does is asked of it over HTTP, pids are the host's.

    /** Start a new instance of the level's lifecycle service and check it runs and answers. */
    async function startLife(k: number): Promise<{ inst: Instance; who: { pid: number; pgid: number; sid: number } }> {
      const inst = world.supervisor.create(lifeOf(k), `l${n++}`, 100);
      await within(START_MS, `start ${inst.key}`, world.supervisor.start(inst, 'conformance'));
      assert.equal(inst.state, 'running', `${inst.key} is ${inst.state} (last exit: ${JSON.stringify(inst.lastExit)})`);
      assert.ok(inst.pid !== null && inst.port !== null);
      world.track(inst.pid);
      const r = await getJson<{ instance: string; pid: number; pgid: number; sid: number }>(inst.port, '/whoami');
      assert.equal(r.status, 200, 'the app answers on its port');
      assert.equal(r.body.instance, inst.key);
      return { inst, who: r.body };
    }

    /** The host pids of the instance's tree now: its process (inst.pid) and everything under it. */
    const treeOf = (inst: Instance): number[] => {
      const d = descendants(inst.pid!).map((p) => p.pid);
      world.track(...d);
      return [inst.pid!, ...d];
    };

    /** Stop through the supervisor; resolves with how long it took (ms). */
    async function timedStop(inst: Instance, bound = STOP_TIMEOUT * 1000 + 5000): Promise<number> {
      const t0 = performance.now();
      await within(bound, `stop ${inst.key}`, world.supervisor.stop(inst, 'stopped', 'conformance'));
      return performance.now() - t0;
    }

    const gone = (what: string, pids: number[], ms = 3000) => waitFor(what, () => survivors(pids).length === 0, ms)
      .catch(() => assert.fail(`${what}: still alive: ${survivors(pids).join(', ')}`));

    test('each level: lifecycle — spawn, serve, health probe, graceful stop (an app that exits 0 on SIGTERM: code 0, well under stop_timeout)', { timeout: 60_000, concurrency: true }, async (t) => {
      await Promise.all(running().map((level) => t.test(`level "${level}"`, async (st) => {
          const { inst } = await startLife(levels.indexOf(level));
          const served = await getJson<{ instance: string }>(inst.port!, '/');
          assert.equal(served.status, 200);
          assert.equal(served.body.instance, inst.key);
          const probe = await within(5000, 'probe', world.supervisor.probe(inst));
          assert.ok(probe.ok, `health probe: ${probe.detail}`);
          const tree = treeOf(inst);
          const ms = await timedStop(inst);
          st.diagnostic(`graceful stop of ${inst.key}: ${ms.toFixed(0)} ms (stop_timeout ${STOP_TIMEOUT} s)`);
          assert.equal(inst.state, 'stopped');
          assert.deepEqual({ code: inst.lastExit?.code, signal: inst.lastExit?.signal }, { code: 0, signal: null }, `last exit ${JSON.stringify(inst.lastExit)}`);
          assert.ok(ms < STOP_TIMEOUT * 1000 * GRACEFUL_SHARE, `the graceful stop took ${ms.toFixed(0)} ms, not well under stop_timeout (${STOP_TIMEOUT} s)`);
          await gone('the tree after the stop', tree);
        })));
    });

    test('each level: SIGKILL fallback — an app that ignores SIGTERM is stopped after stop_timeout, its whole tree gone', { timeout: 60_000, concurrency: true }, async (t) => {
      await Promise.all(running().map((level) => t.test(`level "${level}"`, async (st) => {
          const { inst } = await startLife(levels.indexOf(level));
          assert.equal((await getJson(inst.port!, '/ignore-term')).status, 200);
          const tree = treeOf(inst);
          const ms = await timedStop(inst);
          st.diagnostic(`stop of ${inst.key}, which ignores SIGTERM: ${ms.toFixed(0)} ms (stop_timeout ${STOP_TIMEOUT} s)`);
          assert.equal(inst.state, 'stopped');
          assert.ok(ms >= STOP_TIMEOUT * 1000 - 100, `stopped after ${ms.toFixed(0)} ms: SIGTERM was ignored, so only the SIGKILL after stop_timeout (${STOP_TIMEOUT} s) could end it`);
          assert.ok(ms < STOP_TIMEOUT * 1000 + 3000, `the SIGKILL after stop_timeout took ${(ms - STOP_TIMEOUT * 1000).toFixed(0)} ms to end it`);
          assert.ok(!(inst.lastExit?.code === 0 && inst.lastExit.signal === null), `a killed app is not a clean exit: ${JSON.stringify(inst.lastExit)}`);
          await gone('the tree after the SIGKILL', tree);
        })));
    });

    test('each level: crash restart — restart = "always": the app exits 1, it runs again with a new pid', { timeout: 60_000, concurrency: true }, async (t) => {
      await Promise.all(running().map((level) => t.test(`level "${level}"`, async (st) => {
          const { inst } = await startLife(levels.indexOf(level));
          const old = inst.pid!;
          const tree = treeOf(inst);
          const t0 = performance.now();
          await getJson(inst.port!, '/exit?code=1').catch(() => undefined);
          await waitFor(`${inst.key} running again with a new pid`, () => inst.state === 'running' && inst.pid !== null && inst.pid !== old, START_MS);
          st.diagnostic(`${inst.key}: exit 1 → running again in ${(performance.now() - t0).toFixed(0)} ms (backoff 0.2 s)`);
          world.track(inst.pid!);
          assert.equal(inst.lastExit?.code, 1, `last exit ${JSON.stringify(inst.lastExit)}`);
          assert.ok(inst.restarts >= 1, `restarts: ${inst.restarts}`);
          assert.ok(transitions.some((x) => x.key === inst.key && x.to === 'restarting'), 'it went through `restarting`');
          const again = await getJson<{ instance: string; pid: number }>(inst.port!, '/whoami');
          assert.equal(again.body.instance, inst.key, 'the new process answers');
          await gone('the crashed process\'s tree', tree);
          await timedStop(inst);
        })));
    });

    test('each level: a setsid grandchild (a session of its own, out of the app\'s process group) is gone after a stop', { timeout: 60_000, concurrency: true }, async (t) => {
      await Promise.all(running().map((level) => t.test(`level "${level}"`, async () => {
          const { inst } = await startLife(levels.indexOf(level));
          assert.equal((await getJson(inst.port!, '/setsid')).status, 200);
          const grandchild = await waitFor('the setsid sleep in the tree', () => descendants(inst.pid!).find((p) => p.comm === 'sleep'), 5000);
          world.track(grandchild.pid);
          const st = procStat(grandchild.pid);
          assert.ok(st, 'the grandchild exists');
          assert.equal(st.session, grandchild.pid, 'the grandchild leads a session of its own');
          assert.equal(st.pgrp, grandchild.pid, 'so it is in a process group of its own: a signal to the app\'s group misses it');
          const tree = treeOf(inst);
          await timedStop(inst);
          assert.equal(inst.state, 'stopped');
          await gone('the setsid grandchild after the stop', [grandchild.pid, ...tree]);
        })));
    });

    test('each level: a daemonizing app (a detached server, then the main process exits 0) is failed with TEN_ERR_ISOLATION_DAEMONIZED and its daemon ended', { timeout: 60_000, concurrency: true }, async (t) => {
      await Promise.all(running().map((level) => t.test(`level "${level}"`, async (st) => {
          const { inst } = await startLife(levels.indexOf(level));
          const d = await getJson<{ pid: number; port: number }>(inst.port!, '/daemonize');
          assert.equal(d.status, 200);
          const daemon = await waitFor('the daemon in the tree', () => descendants(inst.pid!).find((p) => cmdlineOf(p.pid).includes('--daemon')), 5000);
          world.track(daemon.pid);
          assert.equal(procStat(daemon.pid)?.session, daemon.pid, 'the daemon leads a session of its own');
          assert.equal((await getJson<{ daemon: boolean }>(d.body.port, '/')).body.daemon, true, 'the daemon serves on its own port');
          const t0 = performance.now();
          await getJson(inst.port!, '/exit?code=0').catch(() => undefined); // the fork-and-exit
          await waitFor(`${inst.key} failed`, () => inst.state === 'failed', STOP_TIMEOUT * 1000 + 5000)
            .catch(() => assert.fail(`${inst.key} is ${inst.state}, last exit ${JSON.stringify(inst.lastExit)}`));
          const failedAfter = performance.now() - t0;
          await gone('the daemon', [daemon.pid], 3000);
          st.diagnostic(`${inst.key}: failed ${failedAfter.toFixed(0)} ms after the main process exited 0; the daemon (ignores SIGTERM) gone ${(performance.now() - t0).toFixed(0)} ms after`);
          const last = transitions.filter((x) => x.key === inst.key).at(-1)!;
          assert.equal(last.to, 'failed');
          assert.match(last.reason, /^TEN_ERR_ISOLATION_DAEMONIZED: /, `the failed transition's reason: ${last.reason}`);
          assert.equal(inst.lastExit?.code, 0, `last exit ${JSON.stringify(inst.lastExit)}`);
          assert.match(inst.lastExit?.reason ?? '', /daemonized/, `last exit reason: ${inst.lastExit?.reason}`);
          await sleep(500); // restart = "always", backoff 0.2 s: a daemonized app is not restarted
          assert.equal(inst.state, 'failed', 'a daemonizing app is not restarted');
          assert.equal(inst.pid, null);
        })));
    });
  });
}

/** What a spec says about the process, as plain data (service and instance by name). */
interface Snapshot extends Omit<SpawnSpec, 'service' | 'instance'> { service: string; isolation: string; instance: string }
function snapshot(s: SpawnSpec): Snapshot {
  return {
    ...s, service: s.service.name, isolation: s.service.isolation, instance: s.instance.key, argv: [...s.argv], env: { ...s.env },
    wrap: [...s.wrap], initOptions: [...s.initOptions],
  };
}
