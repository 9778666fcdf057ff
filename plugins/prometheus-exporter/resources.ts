// CPU and memory per instance, from the core's processTreeUsage() (the instance's whole process
// tree: its own cgroup, else /proc), turned into what the metrics need: a CPU counter that never
// goes down while the instance keeps its process, and recent samples to compute CPU per second
// over a window.
//
// The counter's policy: it only adds the positive differences between two readings, so a child
// that exits unreaped, or a process tree that moves into a cgroup of its own (a freeze), does not
// make it go down. When the instance gets a new process (its pid changes), the counter becomes
// that process tree's own CPU time: a counter reset, which Prometheus' rate() and increase()
// handle (https://prometheus.io/docs/concepts/metric_types/#counter). While the instance has no
// process it keeps its last value, and its memory is 0.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { processTreeUsage, type InstanceInfo } from '../../core/index.ts';

/** Samples kept per instance: enough to reach 10 s back at one sample every 2 s. */
const RING = 8;
/** By default, a sample younger than this is reused instead of reading /proc again (ms): the
 *  history tick and the live statistics may come close together. */
const FRESH_MS = 1000;
/** Instances read per turn of the event loop by sampleAll() (a reading takes 0.1–0.2 ms). */
const CHUNK = 16;

/** One reading: when (ms epoch), the counter's value then (CPU seconds). */
interface Point { at: number; cpu: number }

/** One instance's accumulator. */
export interface Usage {
  /** The pid the counter belongs to; null before the first process. */
  pid: number | null;
  /** The last raw reading of the tree's CPU seconds. */
  last: number;
  /** The counter: CPU seconds, monotonic while `pid` stays. */
  cpuSeconds: number;
  /** Memory of the tree at the last reading, bytes; 0 without a process. */
  memoryBytes: number;
  /** Last readings, oldest first (at most RING), for rates. Emptied when the pid changes. */
  points: Point[];
}

export class Resources {
  private readonly usage = new WeakMap<InstanceInfo, Usage>();

  /** Read the instance's process tree (unless read less than `maxAgeMs` ago) and update its counter. */
  sample(inst: InstanceInfo, maxAgeMs = FRESH_MS): Usage {
    const now = Date.now();
    let u = this.usage.get(inst);
    if (!u) this.usage.set(inst, u = { pid: null, last: 0, cpuSeconds: 0, memoryBytes: 0, points: [] });
    const newest = u.points.at(-1);
    if (newest && now - newest.at < maxAgeMs && inst.pid === u.pid) return u;
    const r = inst.pid === null ? null : processTreeUsage(inst.pid);
    if (r === null) {
      u.memoryBytes = 0; // no process (or it just ended): the counter keeps its value
      return u;
    }
    if (inst.pid !== u.pid) {
      // a new process: the counter is its tree's own from here (a reset for Prometheus)
      u.pid = inst.pid;
      u.cpuSeconds = r.cpuSeconds;
      u.points = [];
    } else if (r.cpuSeconds > u.last) {
      u.cpuSeconds += r.cpuSeconds - u.last;
    }
    u.last = r.cpuSeconds;
    u.memoryBytes = r.memoryBytes;
    u.points.push({ at: now, cpu: u.cpuSeconds });
    if (u.points.length > RING) u.points.shift();
    return u;
  }

  /** sample() every instance that has a process, CHUNK at a time with a turn of the event loop
   *  in between, so that requests are not held up behind hundreds of readings. */
  async sampleAll(instances: readonly InstanceInfo[], maxAgeMs = FRESH_MS): Promise<void> {
    let n = 0;
    for (const inst of instances) {
      if (inst.pid === null) continue;
      this.sample(inst, maxAgeMs);
      if (++n % CHUNK === 0) await nextTurn();
    }
  }

  /** The last reading of the instance without reading again, if any. */
  peek(inst: InstanceInfo): Usage | undefined {
    return this.usage.get(inst);
  }

  /**
   * CPU seconds per second (cores used) over about the last `seconds`, from the readings: from the
   * newest reading at least that old (else the oldest) to the newest. 0 with fewer than two readings.
   */
  cpuRatio(inst: InstanceInfo, seconds: number): number {
    const pts = this.usage.get(inst)?.points;
    if (!pts || pts.length < 2) return 0;
    const end = pts[pts.length - 1];
    let start = pts[0];
    for (const p of pts) if (end.at - p.at >= seconds * 1000) start = p;
    const dt = (end.at - start.at) / 1000;
    return dt > 0 ? Math.max(0, end.cpu - start.cpu) / dt : 0;
  }
}
