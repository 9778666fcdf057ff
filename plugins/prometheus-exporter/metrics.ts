// The exporter's metrics (prom-client), named by the Prometheus conventions: base units,
// `_total` for counters, `_seconds` for durations (https://prometheus.io/docs/practices/naming/).
// Every series carries `service` and `instance` (the instance id). Series that describe an
// instance's current state are built at scrape time from the registry, so a removed instance's
// series disappear with it; the request counters drop a removed instance's series at scrape.
import client from 'prom-client';
import type { InstanceState, Outcome, ProbeResult, RegistryView, RequestContext, TenementConfig, DeepReadonly } from '../../core/index.ts';

const STATES: readonly InstanceState[] = ['stopped', 'starting', 'running', 'unhealthy', 'restarting', 'failed', 'stopping', 'idle'];

/** The `kind` of a proxy error, by the code tenement answered with. */
const ERROR_KINDS: Readonly<Record<string, string>> = {
  TEN_ERR_ROUTE_UPSTREAM_UNREACHABLE: 'refused',
  TEN_ERR_ROUTE_UPSTREAM_FAILED: 'reset',
  TEN_ERR_ROUTE_UPSTREAM_TIMEOUT: 'timeout',
  TEN_ERR_ROUTE_QUEUE_FULL: 'queue_full',
  TEN_ERR_ROUTE_QUEUE_TIMEOUT: 'queue_timeout',
  TEN_ERR_ROUTE_OVERLOADED: 'overloaded',
};

/** Latency buckets in seconds: 1 ms to 30 s. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<'service' | 'instance' | 'code'>;
  private readonly duration: client.Histogram<'service' | 'instance'>;
  private readonly errors: client.Counter<'service' | 'instance' | 'kind'>;
  private readonly checks: client.Counter<'service' | 'instance' | 'result'>;
  private readonly checkDuration: client.Histogram<'service' | 'instance' | 'result'>;
  /** "service\0id" of every instance a counter has a series for (to drop them once it is gone). */
  private readonly seen = new Set<string>();

  constructor(private readonly instances: RegistryView, private readonly config: DeepReadonly<TenementConfig>) {
    const r = [this.registry];
    this.requests = new client.Counter({ name: 'tenement_http_requests_total', help: 'HTTP requests answered, by the status code sent to the client', labelNames: ['service', 'instance', 'code'], registers: r });
    this.duration = new client.Histogram({ name: 'tenement_http_request_duration_seconds', help: 'Time from a request\'s arrival to its last response byte', labelNames: ['service', 'instance'], buckets: BUCKETS, registers: r });
    this.errors = new client.Counter({ name: 'tenement_proxy_errors_total', help: 'Requests tenement answered itself because the instance could not', labelNames: ['service', 'instance', 'kind'], registers: r });
    this.checks = new client.Counter({ name: 'tenement_health_checks_total', help: 'Health probes, by result', labelNames: ['service', 'instance', 'result'], registers: r });
    this.checkDuration = new client.Histogram({ name: 'tenement_health_check_duration_seconds', help: 'Time a health probe took', labelNames: ['service', 'instance', 'result'], buckets: BUCKETS, registers: r });
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
    client.collectDefaultMetrics({ register: this.registry });
  }

  /** A finished request (hooks.requestDone). Hosts of unknown services count as service="" so
   *  that clients cannot create series at will. */
  request(rc: RequestContext, outcome: Outcome): void {
    const target = rc.target;
    if (target?.kind !== 'service') return; // the management host
    const known = Object.hasOwn(this.config.services, target.service);
    const service = known ? target.service : '';
    const instance = known && outcome.instance ? outcome.instance.id : '';
    if (instance) this.seen.add(`${service}\0${instance}`);
    this.requests.inc({ service, instance, code: String(outcome.status) });
    if (!rc.upgrade) this.duration.observe({ service, instance }, outcome.durationMs / 1000);
    const kind = outcome.code && ERROR_KINDS[outcome.code];
    if (kind) this.errors.inc({ service, instance, kind });
  }

  /** A scheduled probe finished (hooks.probeResult). */
  probe(inst: { service: string; id: string }, r: ProbeResult): void {
    const labels = { service: inst.service, instance: inst.id, result: r.ok ? 'pass' : 'fail' };
    this.seen.add(`${inst.service}\0${inst.id}`);
    this.checks.inc(labels);
    this.checkDuration.observe(labels, r.latencyMs / 1000);
  }

  /** The text exposition format, after dropping the series of instances that no longer exist. */
  async text(): Promise<string> {
    for (const key of [...this.seen]) {
      const [service, instance] = key.split('\0');
      if (this.instances.get(service, instance)) continue;
      this.seen.delete(key);
      for (const m of [this.requests, this.duration, this.errors, this.checks, this.checkDuration] as Array<client.Counter<string> | client.Histogram<string>>) {
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
