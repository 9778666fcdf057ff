// Control groups for instances: each instance gets a cgroup in every hierarchy this host lets
// ten serve use, so that every process it starts — however it detached — can be listed, frozen,
// limited and killed. Probed at run time (cgroups(7)): a hierarchy counts only when a process
// could really be moved into a cgroup made in it, never on `mkdir` alone.
//
// Layout: <mount>/<ten serve's own cgroup>/tenement-<tag>/<service>.<id> in each hierarchy.
//   cgroup v2 (one unified hierarchy): membership always; `memory`, `pids`, `cpu` when they can be
//     enabled in cgroup.subtree_control (a cgroup with processes of its own cannot delegate them:
//     the "no internal processes" rule, cgroups(7)); freezing with cgroup.freeze.
//   cgroup v1 (a hierarchy per controller): `pids` (also membership when v2 is not usable),
//     `memory`, `cpu`, `cpuacct` (CPU time for metrics), `freezer`.
// Service names and ids are DNS labels, so `<service>.<id>` is unambiguous and a safe file name.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TenementError } from './errors.ts';
import { cgroupFolder, cgroupPaths } from './usage.ts';
import type { Limits } from './types.ts';

/** A mounted hierarchy and the folder tenement's cgroups live in. */
export interface Hierarchy {
  v2: boolean;
  /** v1: the controllers bound to it; v2: those enabled for tenement's cgroups. */
  controllers: string[];
  /** <mount>/<own cgroup>/tenement-<tag> */
  dir: string;
}

/** What this host offers, probed once per tag (see probeCgroups). */
export interface CgroupSupport {
  /** The hierarchy whose cgroup.procs lists an instance's processes; null: no cgroup is usable. */
  membership: Hierarchy | null;
  /** Where each controller an instance can use lives (memory, pids, cpu, cpuacct, freezer). */
  controllers: Partial<Record<Controller, Hierarchy>>;
  /** Why a mechanism is missing, by name (`cgroup-v2`, `cgroup-v1`, a controller), for `ten doctor`. */
  missing: Record<string, string>;
}

export type Controller = 'memory' | 'pids' | 'cpu' | 'cpuacct' | 'freezer';
const V1_CONTROLLERS: Controller[] = ['pids', 'memory', 'cpu', 'cpuacct', 'freezer'];
const V2_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;

const probed = new Map<string, CgroupSupport>();

/** The folder name of tenement's cgroups for a data_dir: stable across restarts of ten serve. */
export function cgroupTag(dataDir: string): string {
  return `tenement-${createHash('sha256').update(dataDir).digest('hex').slice(0, 10)}`;
}

/**
 * Can a process really be moved into a cgroup made under each of `dirs`? One shell tries to join
 * a cgroup `probe` in each, in turn (one spawn for all: forking ten serve is what costs). null for
 * yes, else why not.
 */
function joinable(dirs: string[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const made: string[] = [];
  for (const dir of dirs) {
    try {
      mkdirSync(join(dir, 'probe'), { recursive: true });
      made.push(dir);
    } catch (err) {
      out.set(dir, `cannot create a cgroup in ${dir}: ${(err as NodeJS.ErrnoException).code}`);
    }
  }
  if (made.length === 0) return out;
  const r = spawnSync('/bin/sh', ['-c', 'for d; do if echo 0 > "$d/probe/cgroup.procs"; then echo ok; else echo no; fi; done', 'sh', ...made],
    { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 5000 });
  const said = (r.stdout ?? '').split('\n');
  const errors = (r.stderr ?? '').split('\n').filter(Boolean);
  made.forEach((dir, i) => out.set(dir, said[i] === 'ok' ? null : `a process cannot join a cgroup in ${dir}: ${errors.shift() ?? r.error?.message ?? `exit ${r.status}`}`));
  for (const dir of made) { try { rmdirSync(join(dir, 'probe')); } catch { /* the shell has exited; removal is best effort */ } }
  return out;
}

/** Write `value` to a cgroup interface file; a failure names the file. */
function put(dir: string, file: string, value: string): void {
  writeFileSync(join(dir, file), value);
}

/**
 * Find, once per `tag`, the hierarchies ten serve can make instance cgroups in (creating its
 * tenement-<tag> folder in each). Never throws: what is missing is in `missing`.
 */
export function probeCgroups(tag: string): CgroupSupport {
  const known = probed.get(tag);
  if (known) return known;
  const s: CgroupSupport = { membership: null, controllers: {}, missing: {} };
  // ten serve's own cgroup in each hierarchy, and where it is mounted (usage.ts parses both)
  const own = cgroupPaths('self') ?? new Map<string, string>();
  const under = (hier: string) => { const path = own.get(hier); const f = path === undefined ? undefined : cgroupFolder(hier, path); return f === undefined ? undefined : join(f, tag); };
  const v2Dir = under('');
  const v1Dirs = new Map(V1_CONTROLLERS.map((c) => [c, under(c)] as const));
  const ok = joinable([...new Set([v2Dir, ...v1Dirs.values()].filter((d): d is string => d !== undefined))]);
  if (!v2Dir) s.missing['cgroup-v2'] = 'no cgroup2 file system is mounted';
  else {
    const dir = v2Dir;
    const why = ok.get(dir) ?? null;
    if (why) s.missing['cgroup-v2'] = why;
    else {
      const h: Hierarchy = { v2: true, controllers: [], dir };
      s.membership = h;
      const offered = readText(join(dir, '..', 'cgroup.controllers')).split(/\s+/);
      let leaf = false;
      for (const c of V2_CONTROLLERS) {
        if (!offered.includes(c)) continue;
        const enable = () => {
          put(join(dir, '..'), 'cgroup.subtree_control', `+${c}`);
          put(dir, 'cgroup.subtree_control', `+${c}`);
        };
        try {
          try {
            enable();
          } catch (err) {
            // EBUSY: ten serve's own cgroup has processes (ten serve), so it may not hand controllers
            // down (cgroups(7), "no internal processes"). In a cgroup delegated to it (systemd's
            // Delegate=yes) ten serve moves itself into a leaf beside its instances, as systemd's
            // "Control Group APIs and Delegation" asks of a delegated manager, and tries again.
            if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || leaf) throw err;
            leaf = moveSelfToLeaf(join(dir, '..'), `${tag}.serve`);
            if (!leaf) throw err;
            enable();
          }
          h.controllers.push(c);
          s.controllers[c] = h;
        } catch (err) {
          s.missing[c] = `cgroup v2 cannot enable ${c} for ${dir}: ${(err as NodeJS.ErrnoException).code} (its parent has processes other than ten serve; run ten serve as a systemd service with Delegate=yes, e.g. \`ten install\`)`;
        }
      }
      if (existsSync(join(dir, 'cgroup.freeze'))) s.controllers.freezer = h;
    }
  }
  for (const c of V1_CONTROLLERS) {
    if (s.controllers[c]) continue;
    const dir = v1Dirs.get(c);
    if (!dir) { s.missing[c] ??= `no ${c} controller is available (cgroup v1 or v2)`; continue; }
    const shared = Object.values(s.controllers).find((x) => x.dir === dir); // e.g. cpu,cpuacct mounted together
    const why = shared ? null : ok.get(dir) ?? null;
    if (why) { s.missing[c] = why; continue; }
    const h: Hierarchy = shared ?? { v2: false, controllers: V1_CONTROLLERS.filter((x) => v1Dirs.get(x) === dir), dir };
    s.controllers[c] = h;
    delete s.missing[c];
    s.membership ??= c === 'pids' || c === 'memory' || c === 'freezer' ? h : null;
  }
  if (!s.membership) s.missing['cgroup-v1'] ??= 'no cgroup v1 hierarchy can be used';
  // the folders made for the probe in hierarchies that are not used: gone again
  const used = new Set([s.membership?.dir, ...Object.values(s.controllers).map((h) => h.dir)]);
  for (const dir of ok.keys()) if (!used.has(dir)) { try { rmdirSync(dir); } catch { /* not empty, or gone */ } }
  probed.set(tag, s);
  return s;
}

/** Move this process into the cgroup `<parent>/<name>` (made if missing); false when it cannot. */
function moveSelfToLeaf(parent: string, name: string): boolean {
  try {
    mkdirSync(join(parent, name), { recursive: true });
    put(join(parent, name), 'cgroup.procs', String(process.pid));
    return true;
  } catch {
    return false;
  }
}

function readText(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}

/** The controller that enforces each limit key. */
const LIMIT_CONTROLLER: Record<keyof Limits, Controller> = { memory_limit_mb: 'memory', cpu_limit: 'cpu', pids_limit: 'pids' };

/** One instance's cgroups (one folder per hierarchy). */
export interface InstanceCgroup {
  /** The cgroup.procs files tenement-init joins (one per distinct hierarchy). */
  procsFiles: string[];
  /** The pids in it now (from the membership hierarchy). */
  pids(): number[];
  /** SIGKILL everything in it, until it is empty (bounded: 50 rounds 10 ms apart). */
  killAll(): Promise<void>;
  /** OOM kills counted in it so far (memory.events / memory.oom_control), 0 without a memory cgroup. */
  oomKills(): number;
  /** The folder of a controller, when the instance has one. */
  dirOf(c: Controller): string | undefined;
  /** Remove its folders, retrying while the kernel still counts exiting tasks in them (at most
   *  1 s). Never throws. */
  release(): Promise<void>;
}

/**
 * Make (or reuse) the cgroups of `name` under `support` and set `limits`. The caller empties a
 * reused one that still has processes (killAll) before starting a new process in it.
 * TEN_ERR_ISOLATION_LIMIT_UNAVAILABLE when a limit's controller is missing.
 */
export function instanceCgroup(support: CgroupSupport, name: string, limits: Limits): InstanceCgroup {
  for (const [key, value] of Object.entries(limits) as [keyof Limits, number | undefined][]) {
    const c = LIMIT_CONTROLLER[key];
    if (value !== undefined && !support.controllers[c]) {
      throw new TenementError('TEN_ERR_ISOLATION_LIMIT_UNAVAILABLE', [key, support.missing[c] ?? `no ${c} controller`]);
    }
  }
  const dirs = new Map<Hierarchy, string>();
  for (const h of [support.membership, ...Object.values(support.controllers)]) {
    if (h && !dirs.has(h)) dirs.set(h, join(h.dir, name));
  }
  for (const d of dirs.values()) mkdirSync(d, { recursive: true });
  const member = support.membership ? dirs.get(support.membership)! : undefined;
  const dirOf = (c: Controller) => { const h = support.controllers[c]; return h ? dirs.get(h) : undefined; };
  const pids = () => (member ? readText(join(member, 'cgroup.procs')).split('\n').filter(Boolean).map(Number) : []);
  const cg: InstanceCgroup = {
    procsFiles: [...dirs.values()].map((d) => join(d, 'cgroup.procs')),
    pids,
    dirOf,
    async killAll() {
      for (let round = 0; round < 50; round++) {
        const left = pids();
        if (left.length === 0) return;
        if (member && support.membership?.v2 && existsSync(join(member, 'cgroup.kill'))) {
          try { put(member, 'cgroup.kill', '1'); } catch { /* fall back to signals */ }
        }
        for (const p of left) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
        // a frozen v1 cgroup keeps even SIGKILLed tasks until thawed
        const fz = dirOf('freezer');
        if (fz && !support.controllers.freezer?.v2) { try { put(fz, 'freezer.state', 'THAWED'); } catch { /* gone */ } }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    oomKills() {
      const mem = dirOf('memory');
      if (!mem) return 0;
      const text = readText(join(mem, support.controllers.memory!.v2 ? 'memory.events' : 'memory.oom_control'));
      return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0);
    },
    async release() {
      const left = new Set(dirs.values());
      for (let round = 0; round < 50 && left.size > 0; round++) {
        if (round > 0) await new Promise((r) => setTimeout(r, 20));
        for (const d of left) {
          try { rmdirSync(d); left.delete(d); } catch (err) { if ((err as NodeJS.ErrnoException).code === 'ENOENT') left.delete(d); }
        }
      }
    },
  };
  applyLimits(cg, support, limits);
  return cg;
}

/** Write the limits (and reset the ones not set, for a reused cgroup). */
function applyLimits(cg: InstanceCgroup, s: CgroupSupport, l: Limits): void {
  const mem = cg.dirOf('memory');
  if (mem) {
    const bytes = l.memory_limit_mb === undefined ? null : String(l.memory_limit_mb * 1024 * 1024);
    if (s.controllers.memory!.v2) {
      put(mem, 'memory.max', bytes ?? 'max');
      if (existsSync(join(mem, 'memory.swap.max'))) put(mem, 'memory.swap.max', bytes === null ? 'max' : '0');
    } else {
      // memsw (memory + swap) must stay >= the memory limit: lower order matters (cgroup-v1/memory.rst)
      const memsw = existsSync(join(mem, 'memory.memsw.limit_in_bytes'));
      if (memsw && bytes === null) put(mem, 'memory.memsw.limit_in_bytes', '-1');
      put(mem, 'memory.limit_in_bytes', bytes ?? '-1');
      if (memsw && bytes !== null) put(mem, 'memory.memsw.limit_in_bytes', bytes);
    }
  }
  const cpu = cg.dirOf('cpu');
  if (cpu) {
    const period = 100_000; // µs, the kernel's default CFS period
    const quota = l.cpu_limit === undefined ? null : Math.max(1000, Math.round(l.cpu_limit * period));
    if (s.controllers.cpu!.v2) put(cpu, 'cpu.max', `${quota ?? 'max'} ${period}`);
    else {
      put(cpu, 'cpu.cfs_period_us', String(period));
      put(cpu, 'cpu.cfs_quota_us', String(quota ?? -1));
    }
  }
  const pids = cg.dirOf('pids');
  if (pids) put(pids, 'pids.max', l.pids_limit === undefined ? 'max' : String(l.pids_limit));
}

/** Remove tenement's cgroup folders of `tag` (on shutdown; only empty ones go). Never throws. */
export function releaseCgroups(tag: string): void {
  const s = probed.get(tag);
  if (!s) return;
  for (const h of new Set([s.membership, ...Object.values(s.controllers)])) {
    if (!h) continue;
    try {
      for (const d of readdirSync(h.dir, { withFileTypes: true })) if (d.isDirectory()) { try { rmdirSync(join(h.dir, d.name)); } catch { /* busy */ } }
      rmdirSync(h.dir);
    } catch { /* busy or gone */ }
  }
}
