// Freezing an instance: the cgroup freezer of its own cgroup where the host has one (cgroup v2
// `cgroup.freeze`, or the v1 `freezer` controller), else SIGSTOP/SIGCONT to every process of its
// tree (tenement-init and everything under it).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InstanceCgroup } from './cgroup.ts';
import { treePids } from './usage.ts';
import { waitUntil } from './wait.ts';

type FreezeMechanism = 'cgroup-freezer' | 'sigstop';

export interface Frozen { mechanism: FreezeMechanism; thaw(): void }

/** The cgroup freezer's control file in `dir` and what freezes and thaws it: cgroup v2
 *  `cgroup.freeze` (1/0), else the v1 controller's `freezer.state` (FROZEN/THAWED). */
function freezerFile(dir: string): { v2: boolean; file: string; on: string; off: string } {
  const v2 = !existsSync(join(dir, 'freezer.state'));
  return v2 ? { v2, file: join(dir, 'cgroup.freeze'), on: '1', off: '0' } : { v2, file: join(dir, 'freezer.state'), on: 'FROZEN', off: 'THAWED' };
}

/**
 * Freeze the instance whose tenement-init is `pid` (its cgroup `cg`, when it has one). Resolves
 * once the kernel reports it frozen (at most 1 s for the cgroup freezer).
 */
export async function freeze(pid: number, cg: InstanceCgroup | null): Promise<Frozen> {
  const dir = cg?.dirOf('freezer');
  if (dir) {
    const { v2, file, on, off } = freezerFile(dir);
    writeFileSync(file, on);
    await waitUntil(() => {
      const state = readFileSync(join(dir, v2 ? 'cgroup.events' : 'freezer.state'), 'utf8');
      return v2 ? /frozen 1/.test(state) : state.trim() === 'FROZEN';
    }, { deadline: Date.now() + 1000, firstDelayMs: 1, slowAfterMs: 0 });
    return { mechanism: 'cgroup-freezer', thaw: () => writeFileSync(file, off) };
  }
  const pids = [pid, ...treePids(pid)];
  for (const p of pids) { try { process.kill(p, 'SIGSTOP'); } catch { /* gone */ } }
  return {
    mechanism: 'sigstop',
    thaw: () => { for (const p of pids) { try { process.kill(p, 'SIGCONT'); } catch { /* gone */ } } },
  };
}

/**
 * Thaw whatever froze the instance whose process is `pid` (adopted from a ten serve that is gone,
 * so how is not known here): its cgroup's freezer set to thawed, and SIGCONT to its tree. Both are
 * no-ops on a process that is not frozen.
 */
export function thawAll(pid: number, cg: InstanceCgroup | null): void {
  const dir = cg?.dirOf('freezer');
  if (dir) {
    const { file, off } = freezerFile(dir);
    try { writeFileSync(file, off); } catch { /* gone */ }
  }
  for (const p of [pid, ...treePids(pid)]) { try { process.kill(p, 'SIGCONT'); } catch { /* gone */ } }
}
