// The exporter's metrics (prom-client), named by the Prometheus conventions: base units,
// `_total` for counters, `_seconds` for durations, `_bytes` for sizes
// (https://prometheus.io/docs/practices/naming/). Every series carries `service` and `instance`
// (the instance id), except the rollout series (`service`). docs/plugins/prometheus-exporter.md
// lists them all.
//
// Where each comes from:
// - requests (counter by code, latency histogram, proxy errors): recorded per request in plain
//   numbers (requests.ts, the hot path) and written out at scrape time;
// - instance state, weight, restarts, in-flight: built from the registry at scrape time;
// - CPU and memory: the instance's process tree read at scrape time (resources.ts);
// - health checks (hooks.probeResult), wakes, rollout steps and outcomes, shadow mismatches (the
//   `event` hook): prom-client counters, histograms and gauges.
// A removed instance's series go at the next scrape: those built from the registry with it, the
// others are removed then.
import { createRequire } from 'node:module';
import client from 'prom-client';
import { BUCKETS, RequestBook } from './requests.ts';
import { Resources } from './resources.ts';
import type { DeepReadonly, InstanceState, Outcome, ProbeResult, RegistryView, RequestContext, TenementConfig, TenementEvent } from '../../core/index.ts';

const STATES: readonly InstanceState[] = ['stopped', 'starting', 'running', 'unhealthy', 'restarting', 'failed', 'stopping', 'idle'];

/** Buckets of tenement_wake_duration_seconds: 5 ms (a thaw) to 60 s (a slow start). */
const WAKE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** A label value from a plugin's event field: bounded in length and alphabet (series stay few). */
function labelOf(v: unknown): string | undefined {
  return typeof v === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(v) ? v : undefined;
}

/**
 * Node's process metrics (`process_*`, `nodejs_*`): prom-client's default metrics but its GC
 * histogram (nodejs_gc_duration_seconds), whose PerformanceObserver of every garbage collection
 * cost the proxy about 3 % of its throughput and 4 % more CPU per request under load
 * (bench/exporter.ts; the others are read at scrape time or sample on a 10 ms timer). prom-client
 * has no switch for one default metric, so they are registered one by one from its modules
 * (lib/metrics/<name>.js, named by collectDefaultMetrics.metricsList); if those cannot be loaded
 * (a prom-client that hides them), all the defaults are registered, GC histogram included.
 */
function nodeMetrics(registry: client.Registry): void {
  type Register = (registry: client.Registry, config: object) => void;
  const names = ((client.collectDefaultMetrics as unknown as { metricsList?: string[] }).metricsList ?? []).filter((n) => n !== 'gc');
  let modules: Register[] | undefined;
  try {
    const load = createRequire(import.meta.url);
    modules = names.map((n) => load(`prom-client/lib/metrics/${n}.js`) as Register);
  } catch { /* fall back below */ }
  if (!modules?.length || modules.some((m) => typeof m !== 'function')) return void client.collectDefaultMetrics({ register: registry });
  for (const register of modules) register(registry, { eventLoopMonitoringPrecision: 10 });
}

type Labels = Record<string, string | number>;
interface Sample { labels: Labels; value: number; metricName?: string }

/** A metric prom-client's registry prints like its own, whose samples `values()` computes at
 *  scrape time (prom-client's registry needs only name, help, type and get()). */
function computed(registry: client.Registry, name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]): void {
  const metric = { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: values() }) };
  registry.registerMetric(metric as unknown as client.Metric<string>);
}

export class Metrics {
  readonly registry = new client.Registry();
  /** Requests per service and instance (requests.ts). */
  readonly book = new RequestBook();
  /** CPU and memory per instance (resources.ts). */
  readonly resources = new Resources();
  private readonly checks: client.Counter<'service' | 'instance' | 'result'>;
  private readonly checkDuration: client.Histogram<'service' | 'instance' | 'result'>;
  private readonly wakes: client.Counter<'service' | 'instance' | 'result'>;
  private readonly wakeDuration: client.Histogram<'service' | 'instance' | 'result'>;
  private readonly rolloutStep: client.Gauge<'service'>;
  private readonly canaryWeight: client.Gauge<'service'>;
  private readonly rollouts: client.Counter<'service' | 'kind' | 'outcome'>;
  private readonly mismatches: client.Counter<'service'>;
  private readonly ooms: client.Counter<'service' | 'instance'>;
  /** "service\0id" of every instance a prom-client metric has a series of (dropped once it is gone). */
  private readonly seen = new Set<string>();

  /** `source.config`: the config in force, read when used (ctx.config; a reload replaces it). */
  constructor(private readonly instances: RegistryView, private readonly source: { readonly config: DeepReadonly<TenementConfig> }) {
    const r = [this.registry];
    const { book, resources } = this;
    computed(this.registry, 'tenement_http_requests_total', 'HTTP requests answered, by the status code sent to the client', 'counter', () => {
      const out: Sample[] = [];
      for (const rec of book.records.values()) {
        for (const [code, n] of rec.codes) out.push({ labels: { service: rec.service, instance: rec.instance, code }, value: n });
      }
      return out;
    });
    computed(this.registry, 'tenement_http_request_duration_seconds', 'Time from a request\'s arrival to its last response byte', 'histogram', () => {
      const name = 'tenement_http_request_duration_seconds';
      const out: Sample[] = [];
      for (const rec of book.records.values()) {
        if (rec.count === 0) continue;
        const labels = { service: rec.service, instance: rec.instance };
        let cumulative = 0;
        BUCKETS.forEach((le, i) => {
          cumulative += rec.buckets[i];
          out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
        });
        out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: rec.count });
        out.push({ metricName: `${name}_sum`, labels, value: rec.sum });
        out.push({ metricName: `${name}_count`, labels, value: rec.count });
      }
      return out;
    });
    computed(this.registry, 'tenement_proxy_errors_total', 'Requests tenement answered itself because the instance could not', 'counter', () => {
      const out: Sample[] = [];
      for (const rec of book.records.values()) {
        for (const [kind, n] of rec.errors) out.push({ labels: { service: rec.service, instance: rec.instance, kind }, value: n });
      }
      return out;
    });
    this.checks = new client.Counter({ name: 'tenement_health_checks_total', help: 'Health probes, by result', labelNames: ['service', 'instance', 'result'], registers: r });
    this.checkDuration = new client.Histogram({ name: 'tenement_health_check_duration_seconds', help: 'Time a health probe took', labelNames: ['service', 'instance', 'result'], buckets: [...BUCKETS], registers: r });
    const list = () => this.instances.list();
    new client.Gauge({
      name: 'tenement_http_requests_in_flight', help: 'Requests (and WebSockets) being proxied to the instance', labelNames: ['service', 'instance'], registers: r,
      collect() { this.reset(); for (const i of list()) this.set({ service: i.service, instance: i.id }, i.inflight); },
    });
    new client.Gauge({
      name: 'tenement_instance_state', help: 'The instance\'s state: 1 for the current one, 0 for the others', labelNames: ['service', 'instance', 'state'], registers: r,
      collect() {
        this.reset();
        for (const i of list()) for (const s of STATES) this.set({ service: i.service, instance: i.id, state: s }, i.state === s ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'tenement_instance_weight', help: 'The instance\'s traffic weight (0-100)', labelNames: ['service', 'instance'], registers: r,
      collect() { this.reset(); for (const i of list()) this.set({ service: i.service, instance: i.id }, i.weight); },
    });
    new client.Counter({
      name: 'tenement_instance_restarts_total', help: 'Restarts of the instance since it was created', labelNames: ['service', 'instance'], registers: r,
      collect() { this.reset(); for (const i of list()) this.inc({ service: i.service, instance: i.id }, i.restarts); },
    });
    new client.Counter({
      name: 'tenement_instance_cpu_seconds_total', registers: r, labelNames: ['service', 'instance'],
      help: 'CPU time (user + system) of the instance\'s process tree: its own cgroup, else the sum over its processes in /proc; restarts from the new process\' own when the instance gets a new one',
      collect() { // text() has just read every process tree
        this.reset();
        for (const i of list()) this.inc({ service: i.service, instance: i.id }, resources.peek(i)?.cpuSeconds ?? 0);
      },
    });
    new client.Gauge({
      name: 'tenement_instance_memory_bytes', registers: r, labelNames: ['service', 'instance'],
      help: 'Memory of the instance\'s process tree: its own cgroup\'s charge, else the sum of its processes\' resident set sizes (RSS); 0 without a process',
      collect() {
        this.reset();
        for (const i of list()) this.set({ service: i.service, instance: i.id }, i.pid === null ? 0 : resources.peek(i)?.memoryBytes ?? 0);
      },
    });
    this.wakes = new client.Counter({ name: 'tenement_wakes_total', help: 'Wakes of a sleeping instance by the scaler, by result (ok, failed)', labelNames: ['service', 'instance', 'result'], registers: r });
    this.wakeDuration = new client.Histogram({ name: 'tenement_wake_duration_seconds', help: 'Time from the request that woke the instance to the instance ready (or the wake failed)', labelNames: ['service', 'instance', 'result'], buckets: WAKE_BUCKETS, registers: r });
    this.rolloutStep = new client.Gauge({ name: 'tenement_rollout_step', help: 'Step of the service\'s running rollout (1 = first); 0 when none runs', labelNames: ['service'], registers: r });
    this.canaryWeight = new client.Gauge({ name: 'tenement_rollout_canary_weight', help: 'Weight the running rollout gives the new version (0-100); after a rollout, its last weight if it succeeded, else 0', labelNames: ['service'], registers: r });
    this.rollouts = new client.Counter({ name: 'tenement_rollouts_total', help: 'Deploy workflows ended, by kind (deploy, rolling, rollout) and outcome (succeeded, failed, rolled-back, aborted)', labelNames: ['service', 'kind', 'outcome'], registers: r });
    this.ooms = new client.Counter({ name: 'tenement_instance_oom_kills_total', help: 'Processes of the instance the kernel\'s OOM killer ended in its cgroup (memory_limit_mb reached)', labelNames: ['service', 'instance'], registers: r });
    this.mismatches = new client.Counter({ name: 'tenement_shadow_mismatches_total', help: 'Mirrored requests the shadow instance answered with another status than the live one', labelNames: ['service'], registers: r });
    nodeMetrics(this.registry);
  }

  /** A finished request (hooks.requestDone). Hosts of unknown services count as service="" so
   *  that clients cannot create series at will. */
  request(rc: RequestContext, outcome: Outcome): void {
    const target = rc.target;
    if (target?.kind !== 'service') return; // the management host
    const inst = outcome.instance;
    const service = inst ? inst.service : Object.hasOwn(this.source.config.services, target.service) ? target.service : '';
    this.book.record(service, inst, outcome.status, outcome.durationMs, !rc.upgrade, outcome.code);
  }

  /** A scheduled probe finished (hooks.probeResult). */
  probe(inst: { service: string; id: string }, r: ProbeResult): void {
    const labels = { service: inst.service, instance: inst.id, result: r.ok ? 'pass' : 'fail' };
    this.seen.add(`${inst.service}\0${inst.id}`);
    this.checks.inc(labels);
    this.checkDuration.observe(labels, r.latencyMs / 1000);
  }

  /**
   * One event of the event stream (hooks.event), of a service in the config: `wake` (fields
   * result, duration_seconds) → wakes; `rollout.step` (step, weight) → the rollout gauges;
   * `<kind>.outcome` (outcome) → rollouts_total, and `rollout.outcome` resets the step (and the
   * canary weight unless it succeeded); `shadow.mismatch` → shadow mismatches; `oom` → OOM kills.
   * Others are ignored.
   */
  event(e: TenementEvent): void {
    if (!Object.hasOwn(this.source.config.services, e.service)) return;
    const service = e.service;
    const f = e.fields ?? {};
    if (e.kind === 'wake') {
      const result = labelOf(f.result);
      if (!e.instance || !result) return;
      const labels = { service, instance: e.instance, result };
      this.seen.add(`${service}\0${e.instance}`);
      this.wakes.inc(labels);
      if (typeof f.duration_seconds === 'number' && f.duration_seconds >= 0) this.wakeDuration.observe(labels, f.duration_seconds);
    } else if (e.kind === 'rollout.step') {
      if (typeof f.step === 'number') this.rolloutStep.set({ service }, f.step);
      if (typeof f.weight === 'number') this.canaryWeight.set({ service }, f.weight);
    } else if (e.kind.endsWith('.outcome')) {
      const kind = labelOf(e.kind.slice(0, -'.outcome'.length));
      const outcome = labelOf(f.outcome);
      if (!kind || !outcome) return;
      this.rollouts.inc({ service, kind, outcome });
      if (kind === 'rollout') {
        this.rolloutStep.set({ service }, 0);
        if (outcome !== 'succeeded') this.canaryWeight.set({ service }, 0);
      }
    } else if (e.kind === 'shadow.mismatch') {
      this.mismatches.inc({ service });
    } else if (e.kind === 'oom' && e.instance) {
      this.seen.add(`${service}\0${e.instance}`);
      this.ooms.inc({ service, instance: e.instance }, typeof f.kills === 'number' && f.kills > 0 ? f.kills : 1);
    }
  }

  /** The text exposition format (0.0.4): every process tree read now, the series of instances that
   *  no longer exist dropped. */
  async text(): Promise<string> {
    await this.resources.sampleAll(this.instances.list(), 0);
    this.book.prune((service, id) => this.instances.get(service, id));
    for (const key of [...this.seen]) {
      const [service, instance] = key.split('\0');
      if (this.instances.get(service, instance)) continue;
      this.seen.delete(key);
      for (const m of [this.checks, this.checkDuration, this.wakes, this.wakeDuration, this.ooms] as Array<client.Counter<string> | client.Histogram<string>>) {
        const sets = new Map<string, Record<string, string>>();
        for (const v of (await m.get()).values) {
          if (v.labels.service !== service || v.labels.instance !== instance) continue;
          const { le: _le, ...labels } = v.labels as Record<string, string>; // a histogram's bucket label is not one of its own
          sets.set(JSON.stringify(labels), labels);
        }
        for (const labels of sets.values()) m.remove(labels);
      }
    }
    return this.registry.metrics();
  }
}
