// One instance process: its spec (argv, env, cwd through the prepareSpawn hook), its spawn with
// stdout/stderr read line by line into the logbook, and signals to it (or to its process group).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Frozen } from './freezer.ts';
import type { Hooks } from './hooks.ts';
import { LineSplitter, type LineSink } from './log-lines.ts';
import { instanceEnv } from './spawn-env.ts';
import type { Instance, ServiceConfig, Settings, SpawnSpec } from './types.ts';

/** Unix sockets of instances: {data_dir}/_sockets/<service>/<id>.sock (same reasoning). */
const SOCKET_DIR = '_sockets';
/** sun_path holds 108 bytes with its terminating NUL (unix(7)). */
const SUN_PATH_MAX = 107;

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

export interface Running {
  child: ChildProcess;
  gen: number;
  port: number;
  /** The Unix socket the app listens on, when its service says `listen = "socket"`. */
  socket: string | null;
  detached: boolean;
  stopping: boolean;
  /** Set while the process is frozen (idle_action = "suspend"), and while it is being frozen. */
  frozen?: Frozen;
  freezing?: Promise<Frozen>;
  /** It was put in a freezer cgroup at some point: remove that cgroup when it exits. */
  cgroup?: boolean;
  /** Why we killed it ourselves (startup timeout), for the crash log. */
  killedFor?: string;
  exited: Promise<void>;
  markExited(): void;
}

/** Build the spec, let isolation rewrite it, spawn. Resolves once the process exists. */
export async function spawnInstance(d: { settings: Settings; hooks: Hooks; inst: Instance; svc: ServiceConfig; port: number; gen: number; output?: OutputCapture }): Promise<Running> {
  const { settings, inst, svc, port } = d;
  const dataDir = join(settings.data_dir, svc.name, inst.id);
  const socket = socketPathOf(settings.data_dir, inst);
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(dirname(socket), { recursive: true });
  if (svc.listen === 'socket') {
    if (Buffer.byteLength(socket) > SUN_PATH_MAX) throw new Error(`the socket path ${socket} is longer than ${SUN_PATH_MAX} bytes: use a shorter data_dir`);
    rmSync(socket, { force: true }); // a previous process's socket would make the app's bind fail
  }
  let spec: SpawnSpec = {
    service: svc, instance: inst, argv: [...svc.argv], cwd: svc.workdir, detached: false,
    env: instanceEnv(svc, inst.id, port, dataDir, socket),
  };
  spec = await d.hooks.prepareSpawn.promise(spec);
  const out = d.output;
  const child: ChildProcess = spawn(spec.argv[0], spec.argv.slice(1), {
    cwd: spec.cwd, env: spec.env, detached: spec.detached, uid: spec.uid, gid: spec.gid,
    stdio: ['ignore', out ? 'pipe' : 'ignore', out ? 'pipe' : 'ignore'],
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
  let markExited!: () => void;
  return {
    child, gen: d.gen, port, socket: svc.listen === 'socket' ? socket : null, detached: spec.detached, stopping: false,
    exited: new Promise<void>((r) => { markExited = r; }), markExited: () => markExited(),
  };
}

/** How a process ended, in words: tenement's own reason if it killed it, else the signal or code. */
export function describeExit(e: { code: number | null; signal: string | null; reason?: string }): string {
  return e.reason ?? (e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`);
}

/** Signal the process, or its whole group when it has one. Never throws. */
export function signalRun(run: Running, sig: NodeJS.Signals): void {
  const pid = run.child.pid;
  if (pid === undefined) return;
  try { process.kill(run.detached ? -pid : pid, sig); } catch { /* already gone */ }
}

/** The freezer cgroup of an instance (service and id are DNS labels, so this is a safe name). */
export function cgroupName(inst: Instance): string {
  return `${inst.service}-${inst.id}`;
}
