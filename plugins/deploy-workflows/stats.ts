// Per-instance request counters for canary analysis, fed by hooks.requestDone: how many requests,
// how many 5xx, and their latencies, since the counters were last reset (the start of a step).
import type { Instance } from '../../core/index.ts';

const MAX_SAMPLES = 100_000;

export interface Window { n: number; errors: number; errorRate: number; p99: number }

export class Counters {
  private readonly data = new Map<string, { errors: number; ms: number[] }>();

  /** Count this request (only for keys being watched). */
  add(key: string, status: number, ms: number): void {
    const d = this.data.get(key);
    if (!d) return;
    if (status >= 500) d.errors += 1;
    if (d.ms.length < MAX_SAMPLES) d.ms.push(ms);
  }

  /** Start (or restart) counting for these instances from zero. */
  watch(keys: string[]): void {
    for (const k of keys) this.data.set(k, { errors: 0, ms: [] });
  }

  unwatch(keys: string[]): void {
    for (const k of keys) this.data.delete(k);
  }

  /** The counters of several instances together. */
  window(insts: Instance[]): Window {
    let errors = 0;
    const ms: number[] = [];
    for (const i of insts) {
      const d = this.data.get(i.key);
      if (!d) continue;
      errors += d.errors;
      for (const x of d.ms) ms.push(x);
    }
    ms.sort((a, b) => a - b);
    const n = ms.length;
    return { n, errors, errorRate: n === 0 ? 0 : errors / n, p99: n === 0 ? 0 : ms[Math.min(n - 1, Math.ceil(0.99 * n) - 1)] };
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
