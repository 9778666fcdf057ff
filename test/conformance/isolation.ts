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
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DNS_LABEL, TenementError, type Instance, type PluginDefinition, type SpawnSpec } from '../../core/index.ts';
import { instanceEnv } from '../../core/spawn-env.ts';
import { assertRefusesUnknownOption, commOf, createWorld, descendants, getJson, isAlive, loadInto, OBSERVER, toml, TREE_APP, waitFor, within, type World } from './world.ts';

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
    let n = 0;

    before(async () => {
      const d = await load();
      assert.equal(d.provides, 'isolation', `${d.name} provides ${String(d.provides)}, not "isolation"`);
      def = d as typeof def;
      levels = Array.isArray(def.levels) ? def.levels : [];
      // the world's services, one per level; the working directory has a space in its name
      workdir = mkdtempSync(join(tmpdir(), 'tenement-conformance-workdir '));
      world = await createWorld({ def, slot: 'isolation', options: opts.options, services: services(levels, workdir) });
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

    test('each level: the app starts from the rewritten spec, answers on its port, and sees its argv, env and cwd', { timeout: 60_000 }, async (t) => {
      for (const level of running()) {
        await t.test(`level "${level}"`, async () => {
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
        });
      }
    });

    test('each level: a stop ends the app\'s whole process tree (children that ignore SIGTERM included)', { timeout: 60_000 }, async (t) => {
      for (const level of running()) {
        await t.test(`level "${level}"`, async () => {
          const { inst, tree } = await startTree(levels.indexOf(level));
          await within(10_000, `stop ${inst.key}`, world.supervisor.stop(inst, 'stopped', 'conformance'));
          assert.equal(inst.state, 'stopped');
          await waitFor('the tree to end', () => survivors(tree).length === 0, 3000)
            .catch(() => assert.fail(`still alive after the stop: ${survivors(tree).join(', ')}`));
        });
      }
    });

    test('each level: when the app exits on its own, what it left behind in its tree is ended too', { timeout: 60_000 }, async (t) => {
      for (const level of running()) {
        await t.test(`level "${level}"`, async () => {
          const { inst, tree } = await startTree(levels.indexOf(level));
          await getJson(inst.port!, '/exit').catch(() => undefined); // answers, then exits 1
          await waitFor(`${inst.key} to be failed (restart = "never")`, () => inst.state === 'failed', 5000);
          await waitFor('the tree to end', () => survivors(tree).length === 0, 3000)
            .catch(() => assert.fail(`still alive after the app exited: ${survivors(tree).join(', ')}`));
        });
      }
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
