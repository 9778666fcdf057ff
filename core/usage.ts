// CPU time and memory of a whole process tree (an instance's process and everything it started),
// for metrics: from the process' cgroup when it has one of its own, else summed over its
// descendants in /proc. Mechanism only: what to do with the figures (counters that never go down,
// rates) is the caller's policy. Linux only; elsewhere every figure is null. Never throws.
//
// Sources (see proc(5) and the kernel's cgroup documentation):
//   /proc/<pid>/cgroup                    hierarchy-ID:controller-list:cgroup-path, one line per hierarchy
//   /proc/self/mountinfo                  where each cgroup hierarchy is mounted
//   cgroup v2: cpu.stat `usage_usec`      CPU time of every process that ran in the cgroup, µs
//              memory.current             memory charged to the cgroup (RSS + page cache + kernel), bytes
//   cgroup v1: cpuacct.usage              CPU time, ns
//              memory.usage_in_bytes      memory charged to the cgroup, bytes
//   /proc/<pid>/task/<tid>/children       the pids a thread forked (kernels with CONFIG_PROC_CHILDREN)
//   /proc/<pid>/stat                      field 4 ppid, 14 utime, 15 stime, 16 cutime, 17 cstime (clock
//                                         ticks), 24 rss (pages)
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

/** What one process tree uses, and where each figure came from. */
export interface ProcessUsage {
  /**
   * CPU time (user + system) in seconds. From a cgroup: everything that ever ran in it. From /proc:
   * the sum over the live processes of the tree of their own time plus that of the children they
   * reaped (utime + stime + cutime + cstime), so a child that exits and is waited for keeps
   * counting; a child reaped by a process outside the tree (an orphan adopted by init) drops out.
   * Either way it may go down between two readings (a child that exits unreaped, a process that
   * moves into a cgroup): a counter built on it must add only positive differences.
   */
  cpuSeconds: number;
  /** Memory in bytes: the cgroup's charge (RSS, page cache and kernel memory), or the sum of the
   *  processes' resident set sizes (RSS) from /proc. */
  memoryBytes: number;
  /** Processes counted: the tree walked in /proc, or, when both figures come from a cgroup, the
   *  processes in it. */
  pids: number;
  /** Where `cpuSeconds` came from. */
  cpuSource: UsageSource;
  /** Where `memoryBytes` came from. */
  memorySource: UsageSource;
  /** The /proc walk stopped at `maxPids` processes: the figures from /proc are too low. */
  truncated: boolean;
}

/** `cgroup-v2` / `cgroup-v1`: the process' own cgroup; `proc`: the sum over its tree in /proc. */
export type UsageSource = 'cgroup-v2' | 'cgroup-v1' | 'proc';

export interface UsageOptions {
  /** Most processes the /proc walk counts (the root included); default 1024. */
  maxPids?: number;
  /** Find the descendants by reading every /proc/<pid>/stat (what kernels without
   *  /proc/<pid>/task/<tid>/children get) instead of following the `children` files. */
  scan?: boolean;
}

const DEFAULT_MAX_PIDS = 1024;

/** One buffer for every read of a /proc or cgroup file (they are small; the module is synchronous). */
const buffer = Buffer.alloc(64 * 1024);

/**
 * The text of a /proc or cgroup file, or null when it cannot be read (the process is gone). These
 * files are generated whole on each read(): a read that does not fill the buffer got all of it,
 * and is not followed by the usual read-until-0, which would generate them again (readFileSync
 * does; for /proc/<pid>/stat of a threaded process that doubles the cost, and more).
 */
function readSmall(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return n < buffer.length ? buffer.toString('latin1', 0, n) : null; // full: larger than these files ever are
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * CPU time and memory of the process `pid` and all its descendants (see ProcessUsage), or null
 * when `pid` does not exist (or this is not Linux). A process that vanishes during the reading is
 * skipped. Synchronous: a few small reads of /proc and /sys per process of the tree, one per
 * thread of each (none per process when the figures come from a cgroup): about 0.1–0.2 ms for a
 * Node app without children on the 2-core CI machine. Callers with many instances should yield
 * between calls.
 */
export function processTreeUsage(pid: number, opts: UsageOptions = {}): ProcessUsage | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const root = readStat(pid);
  if (!root) return null;
  const own = ownCgroups(pid);
  let cpu = own ? cgroupCpu(own) : undefined;
  let memory = own ? cgroupMemory(own) : undefined;
  let pids = 0;
  let truncated = false;
  if (!cpu || !memory) {
    const tree = walk(pid, root, Math.max(1, opts.maxPids ?? DEFAULT_MAX_PIDS), opts.scan === true || !hasChildrenFiles());
    truncated = tree.truncated;
    pids = tree.stats.length;
    const { tick, page } = units();
    cpu ??= { value: tree.stats.reduce((s, t) => s + t.ticks, 0) / tick, source: 'proc' };
    memory ??= { value: tree.stats.reduce((s, t) => s + t.rssPages, 0) * page, source: 'proc' };
  } else {
    pids = cgroupProcs(own!) ?? 1;
  }
  return { cpuSeconds: cpu.value, memoryBytes: memory.value, pids, cpuSource: cpu.source, memorySource: memory.source, truncated };
}

/** The pids of every descendant of `pid` (not `pid` itself), breadth first, at most `max`. */
export function treePids(pid: number, max = DEFAULT_MAX_PIDS): number[] {
  const out: number[] = [];
  const queue = [pid];
  const seen = new Set(queue);
  const scan = !hasChildrenFiles();
  let table: Map<number, number[]> | undefined;
  for (let i = 0; i < queue.length && out.length < max; i++) {
    for (const k of scan ? (table ??= parents(MAX_SCAN)).get(queue[i]) ?? [] : childrenOf(queue[i])) {
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(k);
      queue.push(k);
    }
  }
  return out;
}

// ---------------------------------------------------------------- /proc

/** The fields of /proc/<pid>/stat we use (proc(5)). */
export interface Stat {
  /** Field 3: R, S, D, Z (zombie), X (dead), T… */
  state: string;
  ppid: number;
  /** CPU time of the process and its reaped children, in clock ticks (fields 14–17). */
  ticks: number;
  rssPages: number;
  /** Field 22, the start time in clock ticks since boot, as written: with the pid, what tells a
   *  process from a later one that reuses its pid. */
  start: string;
}

/** The fields of /proc/<pid>/stat we use, or null when it is gone. The command name (field 2) may
 *  contain spaces and parentheses: the fields after it are counted from its last ')'. */
export function readStat(pid: number): Stat | null {
  const text = readSmall(`/proc/${pid}/stat`);
  if (text === null) return null;
  const f = text.slice(text.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  const n = (i: number) => Number(f[i]) || 0;
  return { state: f[0], ppid: n(1), ticks: n(11) + n(12) + n(13) + n(14), rssPages: n(21), start: f[19] ?? '' };
}

/** Whether this kernel has /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN), probed once
 *  on this process' main thread. */
let childrenFiles: boolean | undefined;
function hasChildrenFiles(): boolean {
  return childrenFiles ??= existsSync(`/proc/self/task/${process.pid}/children`);
}

/** The pids the threads of `pid` forked (empty when it is gone). */
function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // gone
  }
  const out: number[] = [];
  for (const tid of tids) {
    const text = readSmall(`/proc/${pid}/task/${tid}/children`);
    if (text === null) continue; // the thread ended meanwhile
    for (const s of text.split(' ')) if (s !== '' && s !== '\n') out.push(Number(s));
  }
  return out;
}

/** Every process of /proc as pid → ppid (the fallback without `children` files), bounded. */
function parents(limit: number): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return byParent;
  }
  let seen = 0;
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    if (++seen > limit) break;
    const st = readStat(Number(name));
    if (!st) continue;
    let kids = byParent.get(st.ppid);
    if (!kids) byParent.set(st.ppid, kids = []);
    kids.push(Number(name));
  }
  return byParent;
}

/** Most /proc entries the fallback scan reads. */
const MAX_SCAN = 65_536;

/** The tree under `pid` (breadth first, at most `max` processes), each process' stat; `scan`:
 *  from one pass over all of /proc instead of the `children` files. */
function walk(pid: number, root: Stat, max: number, scan: boolean): { stats: Stat[]; truncated: boolean } {
  const stats: Stat[] = [root];
  const queue = [pid];
  const seen = new Set(queue);
  let table: Map<number, number[]> | undefined;
  for (let i = 0; i < queue.length; i++) {
    const kids = scan ? (table ??= parents(MAX_SCAN)).get(queue[i]) ?? [] : childrenOf(queue[i]);
    for (const k of kids) {
      if (seen.has(k)) continue;
      if (stats.length >= max) return { stats, truncated: true };
      const st = readStat(k);
      if (!st) continue; // exited meanwhile
      seen.add(k);
      stats.push(st);
      queue.push(k);
    }
  }
  return { stats, truncated: false };
}

/** Clock ticks per second (USER_HZ, the unit of the stat times) and the page size in bytes, asked
 *  of getconf once, at first use. Fallbacks: 100 (USER_HZ on x86 and arm64 alike) and 4096. */
let unitCache: { tick: number; page: number } | undefined;
function units(): { tick: number; page: number } {
  if (unitCache) return unitCache;
  const ask = (name: string, fallback: number) => {
    try {
      const v = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return Number.isInteger(v) && v > 0 ? v : fallback;
    } catch {
      return fallback;
    }
  };
  return unitCache = { tick: ask('CLK_TCK', 100), page: ask('PAGESIZE', 4096) };
}

// ---------------------------------------------------------------- cgroups

/** A cgroup hierarchy as mounted: its root inside the mount and the mount point. */
interface Mount { root: string; at: string }

/** cgroup v2's mount, and v1's by controller name (`cpuacct`, `memory`), read once. */
let mountCache: { v2?: Mount; v1: Map<string, Mount> } | undefined;
function mounts(): { v2?: Mount; v1: Map<string, Mount> } {
  if (mountCache) return mountCache;
  const out: { v2?: Mount; v1: Map<string, Mount> } = { v1: new Map() };
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch { /* not Linux */ }
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point options [optional…] - fstype source super-options
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const f = pre.split(' ');
    const [fstype, , superOpts = ''] = post.split(' ');
    const m = { root: unescapeMount(f[3]), at: unescapeMount(f[4]) };
    if (fstype === 'cgroup2') out.v2 ??= m;
    else if (fstype === 'cgroup') for (const o of superOpts.split(',')) if (!out.v1.has(o)) out.v1.set(o, m);
  }
  return mountCache = out;
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040 …). */
function unescapeMount(s = ''): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** hierarchy → cgroup path of a process: `''` for v2, each controller's name for v1. */
export function cgroupPaths(pid: number | 'self'): Map<string, string> | null {
  const text = readSmall(`/proc/${pid}/cgroup`);
  if (text === null) return null;
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const controllers = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    if (line.slice(0, a) === '0' && controllers === '') out.set('', path);
    else for (const c of controllers.split(',')) out.set(c, path);
  }
  return out;
}

/** This process' (ten serve's) cgroups, read again at most every 10 s (they rarely change). */
let selfCache: { at: number; paths: Map<string, string> } | undefined;
function selfCgroups(): Map<string, string> {
  const now = Date.now();
  if (!selfCache || now - selfCache.at > 10_000) selfCache = { at: now, paths: cgroupPaths('self') ?? new Map() };
  return selfCache.paths;
}

/** The folders of the cgroups that are the process' own, per hierarchy ('' = v2, else a v1
 *  controller): not the root, and not one that holds ten serve itself (this process) — a cgroup
 *  ten serve shares with the instance would count ten serve and its other instances too. */
function ownCgroups(pid: number): Map<string, string> | null {
  const theirs = cgroupPaths(pid);
  if (!theirs) return null;
  const mine = selfCgroups();
  const out = new Map<string, string>();
  for (const [hier, path] of theirs) {
    if (path === '/' || path === '') continue;
    const self = mine.get(hier);
    if (self !== undefined && (self === path || self.startsWith(`${path}/`))) continue;
    const folder = cgroupFolder(hier, path);
    if (folder !== undefined) out.set(hier, folder);
  }
  return out.size ? out : null;
}

/** Where the cgroup `path` (as /proc/<pid>/cgroup gives it) of hierarchy `hier` (`''` for v2,
 *  else a v1 controller) is in this file system, or undefined when that hierarchy is not mounted. */
export function cgroupFolder(hier: string, path: string): string | undefined {
  const m = mounts();
  const mount = hier === '' ? m.v2 : m.v1.get(hier);
  if (!mount) return undefined;
  const rel = mount.root !== '/' && path.startsWith(mount.root) ? path.slice(mount.root.length) : path;
  return `${mount.at}${rel}`;
}

function readNumber(file: string): number | undefined {
  const text = readSmall(file);
  const v = text === null ? NaN : Number(text.trim());
  return Number.isFinite(v) && v >= 0 ? v : undefined;
}

type Figure = { value: number; source: UsageSource };

function cgroupCpu(own: Map<string, string>): Figure | undefined {
  const v2 = own.get('');
  if (v2 !== undefined) {
    const m = /^usage_usec (\d+)$/m.exec(readSmall(`${v2}/cpu.stat`) ?? '');
    if (m) return { value: Number(m[1]) / 1e6, source: 'cgroup-v2' };
  }
  const v1 = own.get('cpuacct');
  const ns = v1 === undefined ? undefined : readNumber(`${v1}/cpuacct.usage`);
  return ns === undefined ? undefined : { value: ns / 1e9, source: 'cgroup-v1' };
}

function cgroupMemory(own: Map<string, string>): Figure | undefined {
  const v2 = own.get('');
  const current = v2 === undefined ? undefined : readNumber(`${v2}/memory.current`); // only with the memory controller on
  if (current !== undefined) return { value: current, source: 'cgroup-v2' };
  const v1 = own.get('memory');
  const usage = v1 === undefined ? undefined : readNumber(`${v1}/memory.usage_in_bytes`);
  return usage === undefined ? undefined : { value: usage, source: 'cgroup-v1' };
}

/** Processes in the cgroup (v2, else v1 memory's), or undefined. */
function cgroupProcs(own: Map<string, string>): number | undefined {
  for (const dir of [own.get(''), own.get('memory'), own.get('cpuacct')]) {
    const text = dir === undefined ? null : readSmall(`${dir}/cgroup.procs`);
    if (text !== null) return text.split('\n').filter((l) => l !== '').length;
  }
  return undefined;
}
