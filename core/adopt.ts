// Re-adoption: a ten serve that was killed (kill -9, a crash, `--keep-apps`) left its apps running
// under their tenement-inits. The next one finds each through the store's `runs` table, makes sure
// it is the same process (pid AND start time, so a reused pid is never adopted; and its cgroup,
// where there is one), connects to the init's socket (it gets the app's pid, then the output kept
// meanwhile), and thaws it if it was frozen. What cannot be adopted is ended, never left running.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { basename } from 'node:path';
import { instanceCgroup, type InstanceCgroup } from './cgroup.ts';
import { thawAll } from './freezer.ts';
import { hostPidOf, killEverything, linkInit, running, type Containment, type Ended, type OutputCapture, type Running } from './process.ts';
import type { StoredRun } from './store.ts';
import type { Instance, ServiceConfig } from './types.ts';
import { readStat, treePids } from './usage.ts';

/** How long connecting to an init's socket and hearing `started` may take. */
const CONNECT_MS = 2000;
/** How often an adopted process (not our child: no exit event) is looked for once its init's
 *  socket has closed. */
const GONE_POLL_MS = 100;

/** Is `row`'s process still the one that was recorded: same pid, same start time, alive? */
export function sameProcess(row: Pick<StoredRun, 'pid' | 'start_ticks'>): boolean {
  const s = readStat(row.pid);
  return s !== null && s.start === row.start_ticks && s.state !== 'Z' && s.state !== 'X';
}

/** Is `pid` in the instance's own cgroup (`<tag>/<name>` of the membership hierarchy)? true when
 *  the host has no cgroup to check. */
function inCgroup(pid: number, c: Containment, name: string): boolean {
  const m = c.cgroups.membership;
  if (!m) return true;
  try {
    const want = `/${basename(m.dir)}/${name}`;
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(want));
  } catch {
    return false;
  }
}

/**
 * Adopt `row`'s process for `inst` (of `svc`), or say why not. `{ run }`: connected, thawed, ready
 * for the supervisor to watch. `{ why }`: not adopted; `ended` says whether a process of ours was
 * found and killed (it could not be reached), as opposed to one that is simply gone.
 */
export async function adoptRun(row: StoredRun, inst: Instance, svc: ServiceConfig, d: { containment: Containment; gen: number; output?: OutputCapture }): Promise<{ run: Running } | { why: string; ended: boolean }> {
  if (!sameProcess(row)) return { why: 'its process is gone', ended: false };
  const name = `${inst.service}.${inst.id}`;
  if (!inCgroup(row.pid, d.containment, name)) return { why: `pid ${row.pid} is not in the instance's cgroup: not ours`, ended: false };
  let cgroup: InstanceCgroup | null = null;
  try {
    if (d.containment.cgroups.membership) cgroup = instanceCgroup(d.containment.cgroups, name, { memory_limit_mb: svc.memory_limit_mb, cpu_limit: svc.cpu_limit, pids_limit: svc.pids_limit });
  } catch {
    cgroup = d.containment.cgroups.membership ? instanceCgroup(d.containment.cgroups, name, {}) : null;
  }
  thawAll(row.pid, cgroup); // a frozen init could not answer
  const socket = await connect(row.listen);
  if (!socket) {
    await endProcess(row.pid, cgroup);
    return { why: `its tenement-init does not answer at ${row.listen}`, ended: true };
  }
  const link = linkInit(socket, inst, row.pid, d.output);
  await Promise.race([link.ready, new Promise((r) => setTimeout(r, CONNECT_MS))]);
  if (link.init.started === undefined) {
    socket.destroy();
    await endProcess(row.pid, cgroup);
    return { why: 'its tenement-init did not say which app it runs', ended: true };
  }
  let done = false;
  const ended = link.closed.then(() => untilGone(row)).then((): Ended => {
    done = true;
    // an init that disappears without its `exit` report was killed
    return link.init.exit ?? { code: null, signal: 'SIGKILL' };
  });
  return {
    run: running({
      pid: row.pid, startTicks: row.start_ticks, ended, gone: () => done, listenPath: row.listen, adopted: true, readySince: row.started_at,
      gen: d.gen, port: row.port, socket: row.socket, cgroup, oomBefore: cgroup?.oomKills() ?? 0,
      control: socket, init: link.init, controlClosed: link.closed,
      appPid: hostPidOf(row.pid, link.init.started),
    }),
  };
}

/** End a process of ours that cannot be adopted: its group, its tree and its cgroup. */
export function endProcess(pid: number, cgroup: InstanceCgroup | null): Promise<void> {
  return killEverything(pid, treePids(pid), cgroup);
}

/** Remove what a run leaves in the file system (its init's socket). */
export function forgetRun(listen: string | null): void {
  if (listen) rmSync(listen, { force: true });
}

/** A connected socket to the init at `path`, or null (no socket, refused, no answer in time). */
function connect(path: string): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const t = setTimeout(() => { s.destroy(); resolve(null); }, CONNECT_MS);
    s.once('connect', () => { clearTimeout(t); resolve(s); });
    s.once('error', () => { clearTimeout(t); resolve(null); });
  });
}

/** Resolves once `row`'s process is gone (reaped by whoever is its parent now). */
function untilGone(row: Pick<StoredRun, 'pid' | 'start_ticks'>): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (sameProcess(row) ? setTimeout(check, GONE_POLL_MS).unref() : resolve());
    check();
  });
}

/**
 * End what a previous ten serve on this data_dir left running in its instances' cgroups and was
 * not adopted (`adopted`: cgroup names, `<service>.<id>`): an instance whose service left the config
 * would otherwise run on unlisted. Returns the names of the cgroups it emptied.
 */
export async function sweepCgroups(c: Containment, adopted: ReadonlySet<string>): Promise<string[]> {
  const m = c.cgroups.membership;
  if (!m) return [];
  let names: string[] = [];
  try { names = readdirSync(m.dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name); } catch { return []; }
  const emptied: string[] = [];
  for (const name of names) {
    if (adopted.has(name)) continue;
    const cg = instanceCgroup(c.cgroups, name, {});
    if (cg.pids().length > 0) {
      await cg.killAll();
      emptied.push(name);
    }
    await cg.release();
  }
  return emptied;
}
