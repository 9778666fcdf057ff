// Freezing a process group: the cgroup freezer where this host lets us use it (cgroup v2
// `cgroup.freeze`, or the v1 `freezer` controller), else SIGSTOP/SIGCONT to the group.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from './wait.ts';

type FreezeMechanism = 'cgroup-freezer' | 'sigstop';

interface CgroupKind { root: string; v2: boolean }

const V2_ROOTS = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];
const V1_ROOT = '/sys/fs/cgroup/freezer';

/** Where tenement's freezer cgroups can live, probed once (a writable hierarchy with a freezer). */
let kind: CgroupKind | null | undefined;
function cgroupKind(): CgroupKind | null {
  if (kind !== undefined) return kind;
  kind = null;
  const candidates: CgroupKind[] = [
    ...V2_ROOTS.map((r) => ({ root: join(r, `tenement-${process.pid}`), v2: true })),
    { root: join(V1_ROOT, `tenement-${process.pid}`), v2: false },
  ];
  for (const c of candidates) {
    const parent = join(c.root, '..');
    if (c.v2 ? !existsSync(join(parent, 'cgroup.procs')) || !existsSync(join(parent, 'cgroup.controllers')) : !existsSync(join(parent, 'freezer.state')) && !existsSync(join(parent, 'cgroup.procs'))) continue;
    try {
      mkdirSync(c.root, { recursive: true });
      if (c.v2 && !existsSync(join(c.root, 'cgroup.freeze'))) { rmdirSync(c.root); continue; }
      kind = c;
      break;
    } catch { /* not writable here */ }
  }
  return kind;
}

/** Every pid whose process group is `pgid` (the app and what it forked). */
function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(name)); // fields: state ppid pgrp ...
    } catch { /* exited meanwhile */ }
  }
  return out;
}

export interface Frozen { mechanism: FreezeMechanism; thaw(): void }

/**
 * Freeze the process (group, when `group` is true) `pid`. `name` names its cgroup.
 * Resolves once the kernel reports it frozen.
 */
export async function freeze(pid: number, group: boolean, name: string): Promise<Frozen> {
  const k = cgroupKind();
  if (k) {
    const dir = join(k.root, name);
    try {
      mkdirSync(dir, { recursive: true });
      for (const p of group ? groupPids(pid) : [pid]) writeFileSync(join(dir, 'cgroup.procs'), `${p}\n`);
      const [file, on, off] = k.v2 ? ['cgroup.freeze', '1', '0'] : ['freezer.state', 'FROZEN', 'THAWED'];
      writeFileSync(join(dir, file), on);
      await waitUntil(() => {
        const state = readFileSync(join(dir, k.v2 ? 'cgroup.events' : 'freezer.state'), 'utf8');
        return k.v2 ? /frozen 1/.test(state) : state.trim() === 'FROZEN';
      }, { deadline: Date.now() + 1000, firstDelayMs: 1, slowAfterMs: 0 });
      return {
        mechanism: 'cgroup-freezer',
        thaw: () => {
          writeFileSync(join(dir, file), off);
          // the processes stay in the (thawed) cgroup until they exit; rmdir succeeds once empty
        },
      };
    } catch { /* fall back to signals */ }
  }
  const target = group ? -pid : pid;
  process.kill(target, 'SIGSTOP');
  return { mechanism: 'sigstop', thaw: () => process.kill(target, 'SIGCONT') };
}

/** Remove an emptied cgroup of `name` (after its processes exited). Never throws. */
export function releaseCgroup(name: string): void {
  if (!kind) return;
  try { rmdirSync(join(kind.root, name)); } catch { /* still busy or gone */ }
}

/** Remove tenement's own cgroup folder on shutdown (its children must be empty). Never throws. */
export function releaseCgroupRoot(): void {
  if (!kind) return;
  try {
    for (const d of readdirSync(kind.root, { withFileTypes: true })) if (d.isDirectory()) releaseCgroup(d.name);
    rmdirSync(kind.root);
  } catch { /* still busy or gone */ }
}
