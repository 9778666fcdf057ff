// What the conformance suites share: a "world" wired the way `ten serve` wires it (core/server.ts)
// — one hooks object, the registry over a real store in a fresh temp data_dir, the real Supervisor
// and HealthChecker pointing at each other, the Router's core filter — with ONE plugin under test
// resolved by the real loader (its definition checked, its options validated and defaulted),
// created and applied with the narrowed context createPluginContext builds for it, then the
// `ready` hook. No listener and no proxy: the suites call the hooks the router would call.
//
// Everything a world starts it ends in close(): shutdown hook, every instance stopped, the plugin
// disposed, the store closed, any process left over (an app's orphaned children included) killed,
// the temp folder removed.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { cgroupTag, releaseCgroups } from '../../core/cgroup.ts';
import { parseConfig } from '../../core/config.ts';
import { HealthChecker } from '../../core/health.ts';
import { TenementError } from '../../core/errors.ts';
import { createHooks, type Hooks } from '../../core/hooks.ts';
import { resolvePlugins, withTimeout } from '../../core/loader.ts';
import type { InstanceControl, PluginContext, PluginDefinition, PluginInstance, Slot } from '../../core/plugin.ts';
import { createPluginContext, deepFreeze } from '../../core/plugin-context.ts';
import { Registry } from '../../core/registry.ts';
import { Router } from '../../core/router.ts';
import { Store } from '../../core/store.ts';
import { Supervisor } from '../../core/supervisor.ts';
import type { Instance, RequestContext, TenementConfig } from '../../core/types.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The general test app (test/fixtures/app.mjs): env FAIL_AT_START, START_DELAY_MS, INSTANCE… */
export const FIXTURE_APP = join(ROOT, 'test/fixtures/app.mjs');
/** An app with a child and a grandchild that ignore SIGTERM (test/fixtures/tree-app.mjs). */
export const TREE_APP = join(ROOT, 'test/fixtures/tree-app.mjs');
/** An app that does on request what the isolation checks need: ignore SIGTERM, exit with a code,
 *  start a setsid grandchild, daemonize… (test/fixtures/isolation-app.mjs). */
export const ISOLATION_APP = join(ROOT, 'test/fixtures/isolation-app.mjs');
/** The tap name the suites use for their own observation taps on the raw hooks. */
export const OBSERVER = 'conformance';

/** A TOML string (basic strings accept JSON's escapes for what paths and our values contain). */
export const toml = (s: string): string => JSON.stringify(s);

export interface WorldOptions {
  /** The plugin under test. */
  def: PluginDefinition;
  /** The slot it is loaded into, as `[plugins.<slot>] use = "<its name>"`. */
  slot: Slot;
  /** Its table in tenement.toml (without `use`); the loader validates it and fills defaults. */
  options?: Record<string, unknown>;
  /** Extra `[settings]` lines (data_dir and listen are set by the world). */
  settings?: string;
  /** The `[service.*]` tables (and `[instances]`, if any). */
  services?: string;
  /** What the plugin gets as ctx.instances; the supervisor by default, as in ten serve. */
  control?: InstanceControl;
}

export interface World {
  /** The temp folder: tenement.toml would live here; data_dir is `data/` under it. */
  dir: string;
  config: TenementConfig;
  log: Logger;
  store: Store;
  hooks: Hooks;
  registry: Registry;
  health: HealthChecker;
  supervisor: Supervisor;
  router: Router;
  /** The options the loader validated and filled with defaults. */
  options: Record<string, unknown>;
  /** The plugin instance create() returned, applied with `ctx`. */
  plugin: PluginInstance;
  ctx: PluginContext;
  /** Remember a pid to kill at close() if it is still alive (an app's children). */
  track(...pids: number[]): void;
  /** The plugin's dispose(), once (close() skips it when it already ran). */
  dispose(): Promise<void>;
  /** As ten serve shuts down, then kill leftovers and remove the temp folder. Idempotent. */
  close(): Promise<void>;
}

/** The config text a world parses. */
function configText(o: WorldOptions, dataDir: string): string {
  return `[settings]\ndata_dir = ${toml(dataDir)}\nlisten = "127.0.0.1"\n${o.settings ?? ''}\n${o.services ?? ''}\n`;
}

/** Parse a config and let the real loader resolve the plugin in `slot` (definition, slot,
 *  options and their defaults, isolation levels). Throws the loader's TenementError. Nothing is
 *  read or written at `file`: it only anchors relative paths. */
export async function loadInto(def: PluginDefinition, slot: Slot, options: Record<string, unknown>, text: string, file = join(tmpdir(), 'tenement-conformance-none', 'tenement.toml')): Promise<{ config: TenementConfig; options: Record<string, unknown> }> {
  const config = parseConfig(text, file);
  config.plugins.slots[slot] = { use: def.name, options, where: `plugins.${slot}` };
  const loaded = await resolvePlugins(config, { plugins: { [def.name]: def }, defaults: {} });
  const mine = loaded.find((p) => p.def === def);
  if (!mine) throw new Error(`the loader did not load ${def.name} into slot ${slot}`);
  return { config, options: mine.options };
}

/** Options are checked by the real loader: a key the plugin's schema does not list is refused
 *  with TEN_ERR_PLUGIN_INVALID_OPTIONS naming the TOML key (unless the schema opens itself up with
 *  its own `additionalProperties`, as docs/plugins.md allows). */
export async function assertRefusesUnknownOption(def: PluginDefinition, slot: Slot, options: Record<string, unknown> = {}): Promise<void> {
  const open = (def.options as { additionalProperties?: unknown } | undefined)?.additionalProperties;
  if (open !== undefined && open !== false) return;
  await assert.rejects(loadInto(def, slot, { ...options, no_such_option_xyz: 1 }, ''), (err: unknown) =>
    err instanceof TenementError && err.code === 'TEN_ERR_PLUGIN_INVALID_OPTIONS' && err.message.includes(`plugins.${slot}.no_such_option_xyz`));
}

/** The tracked pids of every world not closed yet: if the test process exits first (a failure,
 *  a timeout), they are killed on the way out rather than left running. */
const openWorlds = new Set<Set<number>>();
process.on('exit', () => { for (const pids of openWorlds) killLeftovers(pids); });

/** A world with `o.def` applied. Call close() in after()/finally. */
export async function createWorld(o: WorldOptions): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-conformance-'));
  // the services' default workdir: apps run as nobody under a root test run (docs/isolation.md)
  chmodSync(dir, 0o755);
  const tracked = new Set<number>();
  let store: Store | undefined;
  let health: HealthChecker | undefined;
  let supervisor: Supervisor | undefined;
  let hooks: Hooks | undefined;
  let plugin: PluginInstance | undefined;
  let disposed: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const log = pino({ level: process.env.CONFORMANCE_LOG ?? 'silent' });

  /** start() calls the plugin made that have not settled: a start queued behind others spawns
   *  (and creates its folders) after a stop, so close() waits for them before removing anything. */
  const starts = new Set<Promise<void>>();
  openWorlds.add(tracked);

  const dispose = () => disposed ??= Promise.resolve().then(() => plugin?.dispose?.());
  const close = () => closing ??= (async () => {
    try {
      health?.close();
      await hooks?.shutdown.promise().catch((err) => log.error({ err }, 'shutdown hook failed'));
      await supervisor?.stopAll('conformance world closing');
      await within(30_000, 'the starts the plugin asked for', Promise.all(starts)).catch((err) => log.error({ err }, 'starts still pending'));
      await supervisor?.stopAll('conformance world closing (after late starts)');
      await dispose().catch((err) => log.error({ err }, 'plugin dispose failed'));
    } finally {
      store?.close();
      killLeftovers(tracked);
      openWorlds.delete(tracked);
      await releaseWorldCgroups(supervisor, join(dir, 'data')).catch((err) => log.error({ err }, 'cgroup release failed'));
      rmSync(dir, { recursive: true, force: true });
    }
  })();

  try {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const loaded = await loadInto(o.def, o.slot, o.options ?? {}, configText(o, dataDir), join(dir, 'tenement.toml'));
    const config = loaded.config;
    // as startServer() wires them
    store = new Store(config.settings.data_dir);
    const h = hooks = createHooks(log);
    const registry = new Registry(h, store);
    const hc = health = new HealthChecker({ config, registry, hooks: h, log, onUnhealthy: (i, why) => sup.onUnhealthy(i, why) });
    const sup = supervisor = new Supervisor({ config, registry, hooks: h, log, probe: (i) => hc.probe(i) });
    const router = new Router({ config, registry, hooks: h });
    // every process the supervisor keeps is tracked, so close() can make sure it ended
    h.transition.tap(OBSERVER, ({ instance }) => { if (instance.pid !== null) tracked.add(instance.pid); });
    const s = store;
    // the supervisor as the plugin's InstanceControl, with its start() calls remembered
    const control: InstanceControl = o.control ?? {
      start: (i, reason, opts) => {
        const p = sup.start(i as Instance, reason, opts);
        const settled = p.then(() => undefined, () => undefined);
        starts.add(settled);
        void settled.then(() => starts.delete(settled));
        return p;
      },
      stop: (i, final, reason) => sup.stop(i as Instance, final, reason),
      probe: (i) => sup.probe(i as Instance),
      suspend: (i, reason) => sup.suspend(i as Instance, reason),
      resume: (i, reason) => sup.resume(i as Instance, reason),
      create: (service, id, weight) => sup.create(service, id, weight),
      remove: (i) => sup.remove(i as Instance),
      setWeights: (changes, reason) => sup.setWeights(changes as ReadonlyArray<readonly [Instance, number]>, reason),
      transition: (i, to, reason) => sup.transition(i as Instance, to, reason),
    };
    const ctx = createPluginContext(o.def.name, {
      hooks: h, registry, control, config: deepFreeze(config), log,
      store: (name) => s.pluginStore(name), routes: { list: [], mounted: false },
    });
    const p = plugin = o.def.create(loaded.options);
    await withTimeout(Promise.resolve().then(() => p.apply(ctx)), o.def.name);
    await h.ready.promise();
    return {
      dir, config, log, store, hooks: h, registry, health: hc, supervisor: sup, router,
      options: loaded.options, plugin: p, ctx,
      track: (...pids) => { for (const pid of pids) tracked.add(pid); },
      dispose, close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/** Remove the world's cgroup folders (tenement-<tag> and what is left under it), as ten serve
 *  does at shutdown (server.ts): without it every world left them in each hierarchy. A process
 *  just killed may still be leaving its cgroup (rmdir: EBUSY): a few tries, 50 ms apart. */
async function releaseWorldCgroups(sup: Supervisor | undefined, dataDir: string): Promise<void> {
  if (!sup) return; // never probed: nothing was made
  const s = sup.containment.cgroups;
  const dirs = [...new Set([s.membership, ...Object.values(s.controllers)])].flatMap((h) => (h ? [h.dir] : []));
  for (let i = 0; i < 20; i++) {
    releaseCgroups(cgroupTag(dataDir));
    if (!dirs.some((d) => existsSync(d))) return;
    await sleep(50);
  }
}

/** SIGKILL every tracked process still alive, with its group and its descendants. */
function killLeftovers(pids: Iterable<number>): void {
  const all = new Set<number>();
  for (const pid of pids) {
    all.add(pid);
    for (const d of descendants(pid)) all.add(d.pid);
  }
  for (const pid of all) {
    if (!isAlive(pid)) continue;
    try { process.kill(-pid, 'SIGKILL'); } catch { /* not a group leader */ }
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

// ---------------------------------------------------------------------------------------------
// Processes, as the host's /proc sees them (Linux). An isolation plugin may put the app in a PID
// namespace: only the host's view of pids is used here.

/** [state, ppid] of a pid from /proc/<pid>/stat (fields 3 and 4, after the parenthesised name). */
function stat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** The process exists and is not a zombie (an unreaped zombie has ended; kill(pid, 0) would
 *  still succeed on it). */
export function isAlive(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

/** A pid's state, parent, process group and session from /proc/<pid>/stat (fields 3 to 6), as
 *  the host sees them; undefined once it has gone. */
export function procStat(pid: number): { state: string; ppid: number; pgrp: number; session: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid, pgrp, session] = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session) };
  } catch {
    return undefined;
  }
}

/** A pid's command line, its arguments joined by spaces ('' once it has gone). */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** The command name of a pid ('?' once it has gone). */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** Every live descendant of `root` (children, grandchildren…), with its command name. */
export function descendants(root: number): { pid: number; comm: string }[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (!s || s.state === 'Z' || s.state === 'X') continue;
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  const out: { pid: number; comm: string }[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push({ pid, comm: commOf(pid) });
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Bounded waits and requests

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`, or a rejection naming `what` once `ms` have passed. */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Poll `fn` every 20 ms until it returns a truthy value; throws naming `what` after `ms`. */
export async function waitFor<T>(what: string, fn: () => T, ms = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** GET http://127.0.0.1:port/path (no keep-alive), bounded; the body parsed as JSON. */
export function getJson<T = Record<string, unknown>>(port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) as T });
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET 127.0.0.1:${port}${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** A request context with a real (unconnected) IncomingMessage, for hooks that take one. */
export function requestContext(host: string, headers: Record<string, string> = {}): RequestContext {
  const req = new IncomingMessage(new Socket());
  req.headers = { host, ...headers };
  return { req, host, authority: host, path: '/', upgrade: false, start: performance.now() };
}
