// What the exporter records per request (hooks.requestDone, the hot path: once per request), kept
// per service and instance in plain numbers: the request counter by status code, the latency
// histogram and the proxy error counter that /metrics exposes, and a per-second window (count,
// 5xx, latency buckets) behind /api/stats. A request costs a map lookup, a few increments and one
// Math.log2 (0.08 µs; prom-client's labelled inc() + observe(), which hash the label set on every
// call, cost 0.75 µs: bench/exporter.ts), and nothing is allocated per request once an instance
// has its record.

/** Bucket bounds of tenement_http_request_duration_seconds, seconds: 1 ms to 30 s. */
export const BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The `kind` of a proxy error (tenement_proxy_errors_total), by the code tenement answered with. */
export const ERROR_KINDS: Readonly<Record<string, string>> = {
  TEN_ERR_ROUTE_UPSTREAM_UNREACHABLE: 'refused',
  TEN_ERR_ROUTE_UPSTREAM_FAILED: 'reset',
  TEN_ERR_ROUTE_UPSTREAM_TIMEOUT: 'timeout',
  TEN_ERR_ROUTE_QUEUE_FULL: 'queue_full',
  TEN_ERR_ROUTE_QUEUE_TIMEOUT: 'queue_timeout',
  TEN_ERR_ROUTE_OVERLOADED: 'overloaded',
};

// ---------------------------------------------------------------- the per-second window

/** Seconds the window keeps (a power of two ≥ the 10 s reported + the one in progress). */
const SLOTS = 16;
/** Latency buckets of the window: bucket i holds [MIN_MS·2^(i/STEPS), MIN_MS·2^((i+1)/STEPS)) ms,
 *  so a percentile read as the bucket's geometric middle is within ±4.4 % (2^(1/16) − 1). Below
 *  MIN_MS goes to the first bucket, above the last bound (0.1 ms · 2^21 ≈ 210 s) to the last. */
const MIN_MS = 0.1;
const STEPS = 8;
const LAT_BUCKETS = 21 * STEPS;

/** Counts of one second range of a Window. */
export interface WindowSum {
  /** Requests answered. */
  count: number;
  /** Of which with a 5xx status. */
  errors: number;
  /** 99th percentile latency in seconds, null without requests. */
  p99: number | null;
}

const scratch = new Uint32Array(LAT_BUCKETS);

/**
 * Requests of one instance per whole second of the epoch (Date.now() / 1000), for the last SLOTS
 * seconds: count, 5xx and latency buckets. Fixed size (16 × 168 counters), reused as time passes:
 * a slot is cleared when a new second takes it.
 */
export class Window {
  private readonly sec = new Float64Array(SLOTS).fill(-1);
  private readonly count = new Uint32Array(SLOTS);
  private readonly errors = new Uint32Array(SLOTS);
  private readonly lat = new Uint32Array(SLOTS * LAT_BUCKETS);

  /** One request answered in second `sec` with `ms` of latency; `error`: a 5xx. */
  add(sec: number, ms: number, error: boolean): void {
    const slot = sec & (SLOTS - 1);
    if (this.sec[slot] !== sec) {
      this.sec[slot] = sec;
      this.count[slot] = 0;
      this.errors[slot] = 0;
      this.lat.fill(0, slot * LAT_BUCKETS, (slot + 1) * LAT_BUCKETS);
    }
    this.count[slot]++;
    if (error) this.errors[slot]++;
    let b = ms > MIN_MS ? Math.floor(Math.log2(ms / MIN_MS) * STEPS) : 0;
    if (b >= LAT_BUCKETS) b = LAT_BUCKETS - 1;
    this.lat[slot * LAT_BUCKETS + b]++;
  }

  /** The seconds `from` (included) to `to` (excluded), at most the last SLOTS. */
  sum(from: number, to: number): WindowSum {
    let count = 0;
    let errors = 0;
    scratch.fill(0);
    for (let s = Math.max(from, to - SLOTS); s < to; s++) {
      const slot = s & (SLOTS - 1);
      if (this.sec[slot] !== s) continue;
      count += this.count[slot];
      errors += this.errors[slot];
      const base = slot * LAT_BUCKETS;
      for (let b = 0; b < LAT_BUCKETS; b++) scratch[b] += this.lat[base + b];
    }
    return { count, errors, p99: count === 0 ? null : quantile(scratch, count, 0.99) };
  }
}

/** The `q` quantile of `count` latencies in `buckets`, in seconds: the geometric middle of the
 *  bucket that holds the ⌈q·count⌉-th. */
function quantile(buckets: Uint32Array, count: number, q: number): number {
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  let b = 0;
  for (; b < LAT_BUCKETS - 1; b++) {
    seen += buckets[b];
    if (seen >= rank) break;
  }
  return (MIN_MS * 2 ** ((b + 0.5) / STEPS)) / 1000;
}

// ---------------------------------------------------------------- records

/** Everything recorded for one (service, instance) pair; instance '' = answered by tenement itself. */
export class RequestRecord {
  /** HTTP status sent to the client → requests. */
  readonly codes = new Map<number, number>();
  /** Histogram counts per bucket of BUCKETS (not cumulative), the last one for +Inf. */
  readonly buckets = new Float64Array(BUCKETS.length + 1);
  /** Sum of the observed latencies, seconds, and how many there were. */
  sum = 0;
  count = 0;
  /** Proxy error kind (ERROR_KINDS) → requests. */
  readonly errors = new Map<string, number>();
  /** The per-second window: only for a registered instance. */
  readonly window: Window | undefined;

  constructor(readonly service: string, readonly instance: string, readonly of?: object) {
    if (of) this.window = new Window();
  }
}

/**
 * Request records by service and instance. Instances' records are found by the instance object
 * (a new instance under an old id starts from zero) and dropped by prune() once it is no longer
 * registered; tenement's own answers (instance '') are kept per service of the config, plus one
 * for hosts naming no service (service ''), so their number is bounded by the config.
 */
export class RequestBook {
  private readonly byInstance = new WeakMap<object, RequestRecord>();
  private readonly own = new Map<string, RequestRecord>();
  /** Every record, by "service\0instance", in the order they appeared. */
  readonly records = new Map<string, RequestRecord>();

  /**
   * One finished request. `inst`: the instance it reached (undefined when tenement answered
   * itself); `service`: '' for a host naming no known service; `ms`: arrival to last byte;
   * `timed`: false for WebSockets (counted, not timed); `code`: tenement's TEN_ERR_* answer.
   */
  record(service: string, inst: { id: string } | undefined, status: number, ms: number, timed: boolean, code: string | undefined): void {
    let rec = inst ? this.byInstance.get(inst) : this.own.get(service);
    if (!rec) rec = this.add(service, inst);
    rec.codes.set(status, (rec.codes.get(status) ?? 0) + 1);
    if (code !== undefined) {
      const kind = ERROR_KINDS[code];
      if (kind !== undefined) rec.errors.set(kind, (rec.errors.get(kind) ?? 0) + 1);
    }
    if (!timed) return;
    const s = ms / 1000;
    let b = 0;
    while (b < BUCKETS.length && s > BUCKETS[b]) b++;
    rec.buckets[b]++;
    rec.sum += s;
    rec.count++;
    rec.window?.add(Math.floor(Date.now() / 1000), ms, status >= 500 && status <= 599);
  }

  /** The window of an instance, if it had requests. */
  windowOf(inst: object): Window | undefined {
    return this.byInstance.get(inst)?.window;
  }

  /** Drop the records of instances `current(service, id)` no longer returns (the same object). */
  prune(current: (service: string, id: string) => object | undefined): void {
    for (const [key, rec] of this.records) {
      if (rec.of && current(rec.service, rec.instance) !== rec.of) this.records.delete(key);
    }
  }

  private add(service: string, inst: { id: string } | undefined): RequestRecord {
    const rec = new RequestRecord(service, inst ? inst.id : '', inst);
    if (inst) this.byInstance.set(inst, rec);
    else this.own.set(service, rec);
    this.records.set(`${service}\0${rec.instance}`, rec); // replaces a removed namesake's
    return rec;
  }
}
