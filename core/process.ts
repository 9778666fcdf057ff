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
import { treePids } from './usage.ts';
import type { Hooks } from './hooks.ts';
import { LineSplitter, type LineSink } from './log-lines.ts';
import { instanceEnv } from './spawn-env.ts';
import type { Instance, ServiceConfig, Settings, SpawnSpec } from './types.ts';

/** Unix sockets of instances: {data_dir}/_sockets/<service>/<id>.sock (same reasoning). */
const SOCKET_DIR = '_sockets';
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

/** What tenement-init said on its control socket (its protocol: native/tenement-init.c). */
export interface InitReport {
  /** The app's pid, as the init sees it (1 less than nothing inside a PID namespace: 2). */
  started?: number;
  /** The app's main process exited and left this many processes, ended by the init since;
   *  `stopping`: it had been asked to stop (a stop's clean-up, not a daemonizing app). */
  orphans?: { count: number; stopping: boolean };
  /** How the app's main process ended. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** A set-up step failed (user, cgroup, hostname, exec). */
  error?: string;
}

export interface Running {
  child: ChildProcess;
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
  const argv = initArgv(spec, cgroup, svc.stop_timeout);
  const out = d.output;
  const child: ChildProcess = spawn(argv[0], argv.slice(1), {
    cwd: spec.cwd, env: spec.env, detached: true,
    stdio: ['ignore', out ? 'pipe' : 'ignore', out ? 'pipe' : 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  if (out) {
    // always read (flowing mode, never paused): a full pipe would block the app; a flood the
    // logbook cannot keep is counted and dropped by the splitter instead
    for (const stream of ['stdout', 'stderr'] as const) {
      const splitter = new LineSplitter(out.lineMax, out.sink(inst.service, inst.id, stream, child.pid ?? null));
      const guard = (fn: () => void) => { try { fn(); } catch (err) { out.failed(err); } };
      child[stream]!.on('data', (c: Buffer) => guard(() => splitter.push(c))).once('end', () => guard(() => splitter.end())).on('error', () => undefined);
    }
  }
  const control = (child.stdio[3] as Duplex | null) ?? null;
  const init: InitReport = {};
  let reported = () => undefined as void;
  const controlClosed = control ? readReports(control, init, () => reported()) : Promise.resolve();
  // the app exists once the init says so (or says what failed, or is gone): at most 10 s
  await new Promise<void>((resolve) => {
    reported = () => { if (init.started !== undefined || init.error !== undefined) resolve(); };
    reported();
    controlClosed.then(() => resolve(), () => resolve());
    setTimeout(resolve, 10_000).unref();
  });
  if (init.error !== undefined && init.started === undefined) {
    // the init reported what failed and exits 126/127; no exit path will own its cgroup
    if (cgroup) {
      const free = () => { void cgroup.killAll().then(() => cgroup.release()); };
      if (child.exitCode !== null || child.signalCode !== null) free(); else child.once('exit', free);
    }
    // a user, group or workdir that does not work will not by retrying; a command not found
    // (yet: a deploy may be copying it) might
    throw new TenementError('TEN_ERR_INSTANCE_SPAWN_FAILED', [inst.key, init.error], { permanent: !init.error.startsWith('exec ') });
  }
  let markExited!: () => void;
  return {
    child, gen: d.gen, port, socket: svc.listen === 'socket' ? socket : null, stopping: false,
    cgroup, oomBefore: cgroup?.oomKills() ?? 0, control, init, controlClosed,
    appPid: init.started === undefined ? child.pid ?? null : hostPid(child.pid!, init.started),
    exited: new Promise<void>((r) => { markExited = r; }), markExited: () => markExited(),
  };
}

/** The host pid of the process that is `nsPid` in the innermost PID namespace under `root`'s
 *  tree (the last field of `NSpid:` in /proc/<pid>/status, proc(5)); `nsPid` itself when nothing
 *  under `root` matches (no namespace: the init's view is the host's). */
function hostPid(root: number, nsPid: number): number {
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

/** The command line: tenement-init (joining the cgroup), the level's wrappers, the init, the app. */
function initArgv(spec: SpawnSpec, cg: InstanceCgroup | null, graceSeconds: number): string[] {
  const joins = (cg?.procsFiles ?? []).flatMap((f) => ['--join', f]);
  const user = spec.user === undefined ? [] : ['--user', spec.user, ...(spec.group !== undefined ? ['--group', spec.group] : []), '--chown', spec.dataDir, '--chown', spec.socketDir];
  const init = ['--control-fd', '3', '--grace', String(graceSeconds), ...user, ...spec.initOptions, '--', ...spec.argv];
  return spec.wrap.length === 0 ? [INIT_PATH, ...joins, ...init] : [INIT_PATH, ...joins, '--exec', '--', ...spec.wrap, INIT_PATH, ...init];
}

/** Most bytes of one control line (the init's lines are short). */
const MAX_REPORT_LINE = 4096;

/** Read the init's reports into `init`; resolves when the socket closes. */
function readReports(control: Duplex, init: InitReport, onReport: () => void): Promise<void> {
  let buf = '';
  control.setEncoding('utf8');
  control.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      const [word, a, b] = line.split(' ');
      const rest = line.slice(word.length + 1);
      buf = buf.slice(nl + 1);
      if (word === 'started') init.started = Number(a);
      else if (word === 'orphans') init.orphans = { count: Number(a), stopping: b === '1' };
      else if (word === 'exit') init.exit = { code: a === '-' ? null : Number(a), signal: b === '-' ? null : b as NodeJS.Signals };
      else if (word === 'error') init.error = rest;
      onReport();
    }
    if (buf.length > MAX_REPORT_LINE) buf = '';
  });
  return new Promise<void>((resolve) => {
    control.once('close', () => resolve());
    control.on('error', () => undefined);
  });
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
  const pid = run.child.pid;
  if (pid === undefined || run.child.exitCode !== null || run.child.signalCode !== null) return;
  const told = run.control?.writable ? run.control.write(sig === 'SIGTERM' ? 'TERM\n' : 'KILL\n') || true : false;
  if (sig === 'SIGTERM') {
    if (!told) killGroup(pid, 'SIGTERM');
    return;
  }
  // the init kills everything itself and still reports how the app ended (SIGTERM, say); if it
  // has not exited within 1 s (stopped, killed, never told), everything is killed from here
  const tree = [...treePids(pid)];
  const force = () => {
    void run.cgroup?.killAll();
    killGroup(pid, 'SIGKILL');
    for (const p of tree) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  };
  if (!told) return force();
  const t = setTimeout(force, 1000);
  t.unref();
  run.exited.then(() => clearTimeout(t), () => undefined);
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(-pid, sig); } catch { /* already gone */ }
}
