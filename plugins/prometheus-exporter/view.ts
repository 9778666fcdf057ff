// The JSON shapes of the exporter's live statistics (GET /api/stats, GET /api/stats/stream), written
// once: stats.ts builds them, `ten top` and the dashboard read them (type-only imports: nothing here
// runs). docs/plugins/prometheus-exporter.md documents them.
import type { InstanceState } from '../../core/index.ts';

/** The last 5 minutes of one instance at 5 s resolution, oldest first: the same index in every
 *  array is one point (at most 60). */
export interface StatsHistoryView {
  /** When each point was taken, ms since the epoch. */
  t: number[];
  /** Requests answered per second over the 5 s before the point. */
  requests_per_second: number[];
  /** Share of those answered with a 5xx status (0 when there were none). */
  error_ratio: number[];
  /** Their 99th percentile latency in seconds; null when there were none. */
  p99_seconds: Array<number | null>;
  /** CPU time of the instance's process tree per second of those 5 s (1 = one core busy). */
  cpu_ratio: number[];
  /** Memory of the process tree at the point, bytes (0 without a process). */
  memory_bytes: number[];
}

/** One instance, over the last `window_seconds`. */
export interface InstanceStatsView {
  service: string;
  /** The instance id. */
  instance: string;
  state: InstanceState;
  weight: number;
  /** Requests answered per second (WebSockets are not counted). */
  requests_per_second: number;
  /** Requests answered with a 5xx status (by the app or by tenement) / all requests; 0 without requests. */
  error_ratio: number;
  /** 99th percentile of the request latency in seconds (arrival to last byte, ±5 %); null without requests. */
  p99_seconds: number | null;
  /** Cores the process tree used on average (CPU seconds per second). */
  cpu_ratio: number;
  /** Memory of the process tree now, bytes (0 without a process). */
  memory_bytes: number;
  /** In GET /api/stats only. */
  history?: StatsHistoryView;
}

/** GET /api/stats (with `history`), and each `stats` event of GET /api/stats/stream (without). */
export interface StatsView {
  /** When it was computed, ms since the epoch. */
  at: number;
  /** The window the per-instance figures cover: the last 10 whole seconds. */
  window_seconds: number;
  /** Every registered instance, in creation order. */
  instances: InstanceStatsView[];
}
