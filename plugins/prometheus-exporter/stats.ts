// Live statistics for people (GET /api/stats, the `ten top` table, the dashboard): per instance,
// request rate, 5xx ratio, p99 latency, CPU and memory over the last 10 seconds, and a 5-minute
// history at 5 s resolution. Built from the request windows (requests.ts) and the CPU/memory
// readings (resources.ts); every buffer has a fixed size per instance, and an instance's go with it.
import type { InstanceInfo, RegistryView } from '../../core/index.ts';
import type { RequestBook } from './requests.ts';
import type { Resources } from './resources.ts';
import type { InstanceStatsView, StatsHistoryView, StatsView } from './view.ts';

/** Seconds the live figures cover. */
export const WINDOW_SECONDS = 10;
/** Seconds between two history points, and how many are kept (5 minutes). */
export const HISTORY_STEP_SECONDS = 5;
export const HISTORY_POINTS = 60;

/** The history of one instance: fixed-size rings, `n` points from `head` on. */
class History {
  readonly t = new Float64Array(HISTORY_POINTS);
  readonly rps = new Float64Array(HISTORY_POINTS);
  readonly errors = new Float64Array(HISTORY_POINTS);
  /** NaN: no requests in that step. */
  readonly p99 = new Float64Array(HISTORY_POINTS);
  readonly cpu = new Float64Array(HISTORY_POINTS);
  readonly memory = new Float64Array(HISTORY_POINTS);
  head = 0;
  n = 0;
  /** Points in a row with no process and no request: the history is dropped after a full ring of them. */
  quiet = 0;
  /** The CPU counter at the previous point (for the step's CPU ratio), and its pid. */
  lastCpu: { at: number; cpu: number; pid: number | null } | undefined;

  push(t: number, rps: number, errors: number, p99: number | null, cpu: number, memory: number): void {
    const i = (this.head + this.n) % HISTORY_POINTS;
    this.t[i] = t;
    this.rps[i] = rps;
    this.errors[i] = errors;
    this.p99[i] = p99 ?? NaN;
    this.cpu[i] = cpu;
    this.memory[i] = memory;
    if (this.n < HISTORY_POINTS) this.n++;
    else this.head = (this.head + 1) % HISTORY_POINTS;
  }

  view(): StatsHistoryView {
    const out: StatsHistoryView = { t: [], requests_per_second: [], error_ratio: [], p99_seconds: [], cpu_ratio: [], memory_bytes: [] };
    for (let k = 0; k < this.n; k++) {
      const i = (this.head + k) % HISTORY_POINTS;
      out.t.push(this.t[i]);
      out.requests_per_second.push(this.rps[i]);
      out.error_ratio.push(this.errors[i]);
      out.p99_seconds.push(Number.isNaN(this.p99[i]) ? null : this.p99[i]);
      out.cpu_ratio.push(this.cpu[i]);
      out.memory_bytes.push(this.memory[i]);
    }
    return out;
  }
}

/** A figure rounded to 4 significant digits (the JSON stays short; nobody reads the fifth). */
const round = (x: number) => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(4)));

export class Stats {
  private readonly histories = new WeakMap<InstanceInfo, History>();

  constructor(private readonly registry: RegistryView, private readonly book: RequestBook, private readonly resources: Resources) {}

  /** Take one history point of every instance (every HISTORY_STEP_SECONDS, from the ready hook):
   *  the requests of the last whole seconds of the step, CPU since the previous point, memory now. */
  async tick(): Promise<void> {
    const list = this.registry.list();
    await this.resources.sampleAll(list);
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    for (const inst of list) {
      const w = this.book.windowOf(inst)?.sum(sec - HISTORY_STEP_SECONDS, sec);
      const usage = this.resources.peek(inst);
      let h = this.histories.get(inst);
      const active = inst.pid !== null || (w !== undefined && w.count > 0);
      if (!h) {
        if (!active) continue; // never ran, never asked: nothing to keep
        this.histories.set(inst, h = new History());
      }
      h.quiet = active ? 0 : h.quiet + 1;
      if (h.quiet >= HISTORY_POINTS) { this.histories.delete(inst); continue; } // 5 minutes of nothing
      let cpu = 0;
      if (usage && h.lastCpu && h.lastCpu.pid === usage.pid && now > h.lastCpu.at) cpu = Math.max(0, usage.cpuSeconds - h.lastCpu.cpu) / ((now - h.lastCpu.at) / 1000);
      h.lastCpu = usage ? { at: now, cpu: usage.cpuSeconds, pid: usage.pid } : undefined;
      const count = w?.count ?? 0;
      h.push(now, round(count / HISTORY_STEP_SECONDS), count ? round(w!.errors / count) : 0, w?.p99 == null ? null : round(w.p99),
        round(cpu), inst.pid === null ? 0 : usage?.memoryBytes ?? 0);
    }
  }

  /** Every instance over the last WINDOW_SECONDS whole seconds; CPU and memory read now (see
   *  Resources.sampleAll); with `history`, each instance's last 5 minutes. */
  async snapshot(history: boolean): Promise<StatsView> {
    const list = this.registry.list();
    await this.resources.sampleAll(list);
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    const instances = list.map((inst): InstanceStatsView => {
      const w = this.book.windowOf(inst)?.sum(sec - WINDOW_SECONDS, sec);
      const usage = inst.pid === null ? undefined : this.resources.peek(inst);
      const count = w?.count ?? 0;
      const v: InstanceStatsView = {
        service: inst.service, instance: inst.id, state: inst.state, weight: inst.weight,
        requests_per_second: round(count / WINDOW_SECONDS),
        error_ratio: count ? round(w!.errors / count) : 0,
        p99_seconds: w?.p99 == null ? null : round(w.p99),
        cpu_ratio: usage ? round(this.resources.cpuRatio(inst, WINDOW_SECONDS)) : 0,
        memory_bytes: usage?.memoryBytes ?? 0,
      };
      if (history) v.history = this.histories.get(inst)?.view() ?? { t: [], requests_per_second: [], error_ratio: [], p99_seconds: [], cpu_ratio: [], memory_bytes: [] };
      return v;
    });
    return { at: now, window_seconds: WINDOW_SECONDS, instances };
  }
}
