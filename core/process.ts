// One instance process: its spec (argv, env, cwd, user, the isolation level's wrappers through the
// prepareSpawn hook), its spawn under tenement-init in its own cgroup, its stdout/stderr read line
// by line into the logbook, the init's reports, and stopping it.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { instanceCgroup, type CgroupSupport, type InstanceCgroup } from './cgroup.ts';
import { TenementError } from './errors.ts';
import type { Frozen } from './freezer.ts';
import { readStat, treePids } from './usage.ts';
import type { Hooks } from './hooks.ts';
import { readInit, type InitReport } from './init-link.ts';
import { LineSplitter, type LineSink } from './log-lines.ts';
import { instanceEnv } from './spawn-env.ts';
import type { Instance, ServiceConfig, Settings, SpawnSpec } from './types.ts';

/** Unix sockets of instances: {data_dir}/_sockets/<service>/<id>.sock (same reasoning). */
const SOCKET_DIR = '_sockets';
/** tenement-init's sockets for a later ten serve: {data_dir}/_run/<service>.<id>.sock (0700). */
const RUN_DIR = '_run';
/** How long a told init has to kill everything and report before it is killed from here. */
const KILL_REPORT_MS = 1000;
/** sun_path holds 108 bytes with its terminating NUL (unix(7)). */
const SUN_PATH_MAX = 107;

/** An instance's data folder ($DATA_DIR): {data_dir}/<service>/<id>. */
export function instanceDataDir(dataDir: string, inst: Pick<Instance, 'service' | 'id'>): string {
  return join(dataDir, inst.service, inst.id);
}

/** Where an instance's SOCKET_PATH points. */
function socketPathOf(dataDir: string, inst: Pick<Instance, 'service' | 'id'>): string {
  return join(dataDir, SOCKET_DIR, inst.service, `${inst.id}.sock`);
}

/** Where instances' stdout and stderr go, line by line: the logbook (its sinks), cutting lines
 *  longer than `lineMax` bytes. */
export interface OutputCapture {
  lineMax: number;
  sink(service: string, id: string, stream: 'stdout' | 'stderr', pid: number | null): LineSink;
  /** Capturing failed (a bug): report it; the output of that chunk is lost, ten serve goes on. */
  failed(err: unknown): void;
}

/** The init every app runs under (native/tenement-init.c, built by `npm run build:init`). */
export const INIT_PATH = fileURLToPath(new URL('../build/tenement-init', import.meta.url));

export type { InitReport } from './init-link.ts';

/** How the process ten serve spawned or adopted ended. */
export interface Ended { code: number | null; signal: NodeJS.Signals | null }

export interface Running {
  /** The process ten serve spawned (tenement-init, or the level's wrapper it became by exec) or
   *  adopted; with `startTicks`, what identifies it across restarts of ten serve. */
  pid: number;
  /** Its start time, field 22 of /proc/<pid>/stat (proc(5)): a reused pid has another. */
  startTicks: string | null;
  /** Resolves once it has ended (reaped: a spawned one; gone from /proc: an adopted one). */
  ended: Promise<Ended>;
  /** It has ended. */
  gone(): boolean;
  /** Where a later ten serve connects to its tenement-init (null: nowhere, not adoptable). */
  listenPath: string | null;
  /** Adopted from a previous ten serve rather than spawned by this one. */
  adopted: boolean;
  /** When it became ready (ms since the epoch), for an adopted one: as the previous ten serve recorded. */
  readySince?: number;
  gen: number;
  port: number;
  /** The Unix socket the app listens on, when its service says `listen = "socket"`. */
  socket: string | null;
  stopping: boolean;
  /** Set while the process is frozen (idle_action = "suspend"), and while it is being frozen. */
  frozen?: Frozen;
  freezing?: Promise<Frozen>;
  /** The instance's cgroup, when the host has one (cgroup.ts). */
  cgroup: InstanceCgroup | null;
  /** OOM kills its cgroup had counted when it started. */
  oomBefore: number;
  /** The app's main process as this host sees it (tenement-init's `started` pid, translated out
   *  of a PID namespace); tenement-init's own pid until it has reported. */
  appPid: number | null;
  /** tenement-init's control socket, and what it reported. */
  control: Duplex | null;
  init: InitReport;
  /** Resolves when the control socket has closed (every report read). */
  controlClosed: Promise<void>;
  /** The SIGKILL a stop has scheduled (stop_timeout, or hurry()'s grace). */
  kill?: NodeJS.Timeout;
  /** Left running for the next ten serve (`--keep-apps`): its end is not this one's business. */
  detached?: boolean;
  /** Why we killed it ourselves (startup timeout), for the crash log. */
  killedFor?: string;
  exited: Promise<void>;
  markExited(): void;
}

/** How the core contains instances on this host: cgroups (when usable), and who runs apps. */
export interface Containment {
  cgroups: CgroupSupport;
  /** ten serve runs as root: apps may (and by default do) run as another user. */
  root: boolean;
}

/** The user an app runs as: its service's, [settings]', `nobody` when ten serve is root; none
 *  (ten serve's own) otherwise. TEN_ERR_ISOLATION_NOT_ROOT for a user set without root. */
export function appUser(settings: Settings, svc: ServiceConfig, root: boolean): { user?: string; group?: string } {
  const user = svc.user ?? settings.user;
  const group = svc.group ?? settings.group;
  if (!root) {
    if (user !== undefined || group !== undefined) throw new TenementError('TEN_ERR_ISOLATION_NOT_ROOT', [`service.${svc.name}`, String(process.getuid?.())]);
    return {};
  }
  return { user: user ?? 'nobody', ...(group !== undefined ? { group } : {}) };
}

/** Build the spec, let isolation rewrite it, spawn under tenement-init. Resolves once the process
 *  exists. TEN_ERR_ISOLATION_INIT_MISSING without the init, TEN_ERR_ISOLATION_* from the cgroup. */
export async function spawnInstance(d: { settings: Settings; hooks: Hooks; inst: Instance; svc: ServiceConfig; port: number; gen: number; containment: Containment; output?: OutputCapture }): Promise<Running> {
  const { settings, inst, svc, port } = d;
  if (!existsSync(INIT_PATH)) throw new TenementError('TEN_ERR_ISOLATION_INIT_MISSING', [INIT_PATH]);
  const dataDir = instanceDataDir(settings.data_dir, inst);
  const socket = socketPathOf(settings.data_dir, inst);
  // {data_dir} and the folders above an instance's own: 0711, so its user can pass through them but
  // not list them; its own two: 0700, owned by that user (tenement-init --chown)
  for (const dir of [settings.data_dir, join(settings.data_dir, svc.name), join(settings.data_dir, SOCKET_DIR)]) privateDir(dir, 0o711);
  privateDir(dataDir, 0o700);
  privateDir(dirname(socket), 0o700);
  if (svc.listen === 'socket') {
    if (Buffer.byteLength(socket) > SUN_PATH_MAX) throw new Error(`the socket path ${socket} is longer than ${SUN_PATH_MAX} bytes: use a shorter data_dir`);
    rmSync(socket, { force: true }); // a previous process's socket would make the app's bind fail
  }
  const who = appUser(settings, svc, d.containment.root);
  const env = instanceEnv(svc, inst.id, port, dataDir, socket);
  // ten serve's HOME is not the app user's to write; a HOME the service sets stays
  if (who.user !== undefined && svc.env.HOME === undefined) env.HOME = dataDir;
  let spec: SpawnSpec = {
    service: svc, instance: inst, argv: [...svc.argv], cwd: svc.workdir, env, wrap: [], initOptions: [],
    ...who, dataDir, socketDir: dirname(socket),
  };
  spec = await d.hooks.prepareSpawn.promise(spec);
  const cgroup = d.containment.cgroups.membership ? instanceCgroup(d.containment.cgroups, `${inst.service}.${inst.id}`, { memory_limit_mb: svc.memory_limit_mb, cpu_limit: svc.cpu_limit, pids_limit: svc.pids_limit }) : null;
  if (cgroup && cgroup.pids().length > 0) await cgroup.killAll(); // left by a ten serve that was killed
  const listenPath = controlPathOf(settings.data_dir, inst);
  if (listenPath) privateDir(dirname(listenPath), 0o700);
  const argv = initArgv(spec, cgroup, svc.stop_timeout, listenPath);
  const out = d.output;
  const child: ChildProcess = spawn(argv[0], argv.slice(1), {
    cwd: spec.cwd, env: spec.env, detached: true,
    stdio: ['ignore', out ? 'pipe' : 'ignore', out ? 'pipe' : 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const pid = child.pid!;
  // the init's and its wrappers' own words (unshare, bwrap: what failed before the app ran); the
  // app's output comes through the init (--relay), on the control socket
  if (out) for (const stream of ['stdout', 'stderr'] as const) capture(out, inst, stream, pid, child[stream]!);
  let done = false;
  const ended = new Promise<Ended>((resolve) => child.once('exit', (code, signal) => { done = true; resolve({ code, signal }); }));
  const link = linkInit(child.stdio[3] as Duplex, inst, pid, out);
  await link.ready;
  const { init } = link;
  if (init.error !== undefined && init.started === undefined) {
    // the init reported what failed and exits 126/127; no exit path will own its cgroup
    if (cgroup) void ended.then(() => cgroup.killAll()).then(() => cgroup.release());
    // a user, group or workdir that does not work will not by retrying; a command not found
    // (yet: a deploy may be copying it) might
    throw new TenementError('TEN_ERR_INSTANCE_SPAWN_FAILED', [inst.key, init.error], { permanent: !init.error.startsWith('exec ') });
  }
  return running({
    pid, startTicks: startTicks(pid), ended, gone: () => done, listenPath, adopted: false,
    gen: d.gen, port, socket: svc.listen === 'socket' ? socket : null, cgroup, oomBefore: cgroup?.oomKills() ?? 0,
    control: link.control, init, controlClosed: link.closed,
    appPid: init.started === undefined ? pid : hostPidOf(pid, init.started),
  });
}

/** A Running from what identifies it; `stopping` false, `exited` pending. */
export function running(r: Omit<Running, 'stopping' | 'exited' | 'markExited'>): Running {
  let markExited!: () => void;
  const exited = new Promise<void>((resolve) => { markExited = resolve; });
  return { ...r, stopping: false, exited, markExited: () => markExited() };
}

/** Lines of `readable` (the init's own stdout or stderr) into the logbook. */
function capture(out: OutputCapture, inst: Instance, stream: 'stdout' | 'stderr', pid: number, readable: NodeJS.ReadableStream): void {
  const splitter = new LineSplitter(out.lineMax, out.sink(inst.service, inst.id, stream, pid));
  const guard = (fn: () => void) => { try { fn(); } catch (err) { out.failed(err); } };
  // always read (flowing mode, never paused); a flood the logbook cannot keep is counted and
  // dropped by the splitter instead
  readable.on('data', (c: Buffer) => guard(() => splitter.push(c))).once('end', () => guard(() => splitter.end())).on('error', () => undefined);
}

/**
 * Read tenement-init's control socket: its reports, and the app's output (relayed by the init)
 * line by line into the logbook. `ready` resolves once the init has said the app runs (or what
 * failed), or the socket closed: at most 10 s.
 */
export function linkInit(control: Duplex, inst: Instance, pid: number, out?: OutputCapture): { control: Duplex; init: InitReport; closed: Promise<void>; ready: Promise<void> } {
  const init: InitReport = {};
  const splitters = new Map<'stdout' | 'stderr', LineSplitter>();
  const splitter = (stream: 'stdout' | 'stderr'): LineSplitter | undefined => {
    if (!out) return undefined;
    let sp = splitters.get(stream);
    if (!sp) splitters.set(stream, sp = new LineSplitter(out.lineMax, out.sink(inst.service, inst.id, stream, pid)));
    return sp;
  };
  const guard = (fn: () => void) => { try { fn(); } catch (err) { out?.failed(err); } };
  let reported = () => undefined as void;
  const closed = readInit(control, init, {
    report: () => reported(),
    output: (stream, chunk) => guard(() => splitter(stream)?.push(chunk)),
    dropped: (bytes) => guard(() => out?.sink(inst.service, inst.id, 'stdout', pid).dropped(bytes)),
  }).then(() => { for (const sp of splitters.values()) guard(() => sp.end()); });
  const ready = new Promise<void>((resolve) => {
    reported = () => { if (init.started !== undefined || init.error !== undefined) resolve(); };
    void closed.then(() => resolve());
    setTimeout(resolve, 10_000).unref();
  });
  return { control, init, closed, ready };
}

/** Field 22 of /proc/<pid>/stat, the process's start time in clock ticks since boot (proc(5));
 *  null when there is no such process. */
export function startTicks(pid: number): string | null {
  return readStat(pid)?.start ?? null;
}

/** Where an instance's tenement-init listens for a later ten serve:
 *  {data_dir}/_run/<service>.<id>.sock; null when that path is too long for a Unix socket. */
export function controlPathOf(dataDir: string, inst: Pick<Instance, 'service' | 'id'>): string | null {
  const path = join(dataDir, RUN_DIR, `${inst.service}.${inst.id}.sock`);
  return Buffer.byteLength(path) > SUN_PATH_MAX ? null : path;
}

/** The host pid of the process that is `nsPid` in the innermost PID namespace under `root`'s
 *  tree (the last field of `NSpid:` in /proc/<pid>/status, proc(5)); `nsPid` itself when nothing
 *  under `root` matches (no namespace: the init's view is the host's). */
export function hostPidOf(root: number, nsPid: number): number {
  for (const p of treePids(root)) {
    let status = '';
    try { status = readFileSync(`/proc/${p}/status`, 'utf8'); } catch { continue; }
    const ns = /^NSpid:\s+(.*)$/m.exec(status)?.[1].trim().split(/\s+/);
    if (ns && ns.length > 1 && Number(ns[ns.length - 1]) === nsPid) return p;
  }
  return nsPid;
}

/** Make `dir` (and its parents) and give it `mode`, whatever it had. */
function privateDir(dir: string, mode: number): void {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode);
}

/** The command line: tenement-init (joining the cgroup, listening for a later ten serve), the
 *  level's wrappers, the init, the app. */
function initArgv(spec: SpawnSpec, cg: InstanceCgroup | null, graceSeconds: number, listenPath: string | null): string[] {
  const joins = (cg?.procsFiles ?? []).flatMap((f) => ['--join', f]);
  const listen = listenPath === null ? [] : ['--listen', listenPath];
  const user = spec.user === undefined ? [] : ['--user', spec.user, ...(spec.group !== undefined ? ['--group', spec.group] : []), '--chown', spec.dataDir, '--chown', spec.socketDir];
  const init = ['--control-fd', '3', '--relay', '--grace', String(graceSeconds), ...user, ...spec.initOptions];
  if (spec.wrap.length === 0) return [INIT_PATH, ...joins, ...listen, ...init, '--', ...spec.argv];
  // the socket is made before the wrapper hides the path, and reaches the inner init as fd 4
  return [INIT_PATH, ...joins, ...listen, '--exec', '--', ...spec.wrap, INIT_PATH, ...(listenPath === null ? [] : ['--listen-fd', '4']), ...init, '--', ...spec.argv];
}

/** How a process ended, in words: tenement's own reason if it killed it, else the signal or code. */
export function describeExit(e: { code: number | null; signal: string | null; reason?: string }): string {
  return e.reason ?? (e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`);
}

/**
 * Stop the app: SIGTERM goes to tenement-init, which passes it to the app's process group (and
 * ends what the app leaves behind within the grace). SIGKILL: the init is told to kill everything
 * at once; after 1 s (or at once when it cannot be told) the cgroup is emptied and the init's
 * process group and tree are killed from here. Never throws.
 */
export function signalRun(run: Running, sig: 'SIGTERM' | 'SIGKILL'): void {
  const pid = run.pid;
  if (run.gone()) return;
  const told = run.control?.writable ? run.control.write(sig === 'SIGTERM' ? 'TERM\n' : 'KILL\n') || true : false;
  if (sig === 'SIGTERM') {
    if (!told) killGroup(pid, 'SIGTERM');
    return;
  }
  // the init kills everything itself and still reports how the app ended (SIGTERM, say); if it
  // has not exited within 1 s (stopped, killed, never told), everything is killed from here
  const tree = [...treePids(pid)];
  const force = () => { void killEverything(pid, tree, run.cgroup); };
  if (!told) return force();
  const t = setTimeout(force, KILL_REPORT_MS);
  t.unref();
  run.exited.then(() => clearTimeout(t), () => undefined);
}

/** SIGKILL `pid`, its process group and `tree` (its descendants, read before), and empty its
 *  cgroup: what a stop ends with when the init cannot do it, and what an unadoptable process
 *  left by a previous ten serve gets (adopt.ts). Resolves once the cgroup is empty. */
export async function killEverything(pid: number, tree: readonly number[], cgroup: InstanceCgroup | null): Promise<void> {
  killGroup(pid, 'SIGKILL');
  for (const p of [pid, ...tree]) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  await cgroup?.killAll();
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(-pid, sig); } catch { /* already gone */ }
}
