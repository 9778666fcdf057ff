// Per-instance request counters for canary analysis, fed by hooks.requestDone: how many requests,
// how many 5xx, and their latencies, since the counters were last reset (the start of a step).
// Requests and errors are counted exactly; latencies go into an HDR histogram (hdr-histogram-js,
// its pure JS implementation: no WebAssembly, nothing to initialise), so memory stays the same
// however many requests a step sees, p99 is read without sorting, and the windows of several
// instances merge exactly by adding their histograms.
import { build, type Histogram } from 'hdr-histogram-js';
import type { Instance } from '../../core/index.ts';

/** Latencies are recorded in microseconds, from 1 µs to 1 h, to 3 significant digits (±0.1 %). */
export const LATENCY_RANGE_US = { lowest: 1, highest: 3_600_000_000, digits: 3 } as const;

interface Window {
  /** Requests answered. */
  n: number;
  /** Of which 5xx. */
  errors: number;
  errorRate: number;
  /** 99th percentile latency in ms (0 with no request), to the histogram's precision. */
  p99: number;
}

function histogram(): Histogram {
  return build({
    lowestDiscernibleValue: LATENCY_RANGE_US.lowest,
    highestTrackableValue: LATENCY_RANGE_US.highest,
    numberOfSignificantValueDigits: LATENCY_RANGE_US.digits,
    autoResize: false, // bounded memory: a longer latency is recorded as 1 h
    useWebAssembly: false,
  });
}

/** ms → whole µs within the histogram's range (NaN and negatives → 0). */
function micros(ms: number): number {
  const us = Math.round(ms * 1000);
  return us > 0 ? Math.min(us, LATENCY_RANGE_US.highest) : 0;
}

interface Tally { n: number; errors: number; latency: Histogram }

export class Counters {
  private readonly data = new Map<string, Tally>();
  /** Reused to merge the histograms of several instances. */
  private readonly merged = histogram();

  /** Count this request (only for keys being watched). */
  add(key: string, status: number, ms: number): void {
    const d = this.data.get(key);
    if (!d) return;
    d.n += 1;
    if (status >= 500) d.errors += 1;
    d.latency.recordValue(micros(ms));
  }

  /** Start (or restart) counting for these instances from zero. */
  watch(keys: string[]): void {
    for (const k of keys) {
      const d = this.data.get(k);
      if (d) { d.n = 0; d.errors = 0; d.latency.reset(); } else this.data.set(k, { n: 0, errors: 0, latency: histogram() });
    }
  }

  unwatch(keys: string[]): void {
    for (const k of keys) this.data.delete(k);
  }

  /** Bytes held by the counters: a fixed amount per watched instance, whatever the traffic. */
  footprint(): number {
    let bytes = this.merged.estimatedFootprintInBytes;
    for (const d of this.data.values()) bytes += d.latency.estimatedFootprintInBytes;
    return bytes;
  }

  /** The counters of several instances together. */
  window(insts: readonly Instance[]): Window {
    let n = 0;
    let errors = 0;
    const tallies: Tally[] = [];
    for (const i of insts) {
      const d = this.data.get(i.key);
      if (!d) continue;
      n += d.n;
      errors += d.errors;
      tallies.push(d);
    }
    let h: Histogram = this.merged;
    if (tallies.length === 1) h = tallies[0].latency;
    else {
      h.reset();
      for (const t of tallies) h.add(t.latency);
    }
    return { n, errors, errorRate: n === 0 ? 0 : errors / n, p99: h.totalCount === 0 ? 0 : h.getValueAtPercentile(99) / 1000 };
  }
}

/**
 * Split `total` among instances in proportion to `weights` (whole numbers, largest remainder), so
 * that the parts add up to `total` exactly. All-zero weights split evenly.
 */
export function proportional(total: number, weights: Record<string, number>): Record<string, number> {
  const ids = Object.keys(weights);
  if (ids.length === 0) return {};
  const sum = ids.reduce((s, id) => s + weights[id], 0);
  const exact = ids.map((id) => (sum === 0 ? total / ids.length : (total * weights[id]) / sum));
  const out = ids.map((_, k) => Math.floor(exact[k]));
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = ids.map((_, k) => k).sort((a, b) => (exact[b] - out[b]) - (exact[a] - out[a]));
  for (const k of order) { if (left <= 0) break; out[k] += 1; left -= 1; }
  return Object.fromEntries(ids.map((id, k) => [id, out[k]]));
}
