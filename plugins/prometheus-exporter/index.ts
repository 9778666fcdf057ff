// prometheus-exporter (slot `metrics`, the default): Prometheus metrics of the proxy, the instances
// and ten serve itself (prom-client), served as GET /metrics on the management host — behind the
// API token unless `public = true`, and then optionally on a listener of its own (`listen`) — and
// live statistics for people: GET /api/stats and the event stream GET /api/stats/stream (`ten
// top`, the dashboard). A tenant token gets all three limited to its tenant's instances (access
// 'tenant'; docs/access.md). docs/plugins/prometheus-exporter.md lists the metrics and the shapes.
import { TenementError, Type, definePlugin, tenantOf, type Static } from '../../core/index.ts';
import { listenMetrics, parseListen, type MetricsListener } from './listen.ts';
import { Metrics } from './metrics.ts';
import { HISTORY_STEP_SECONDS, Stats } from './stats.ts';
import { forTenant, MAX_STREAMS, StatsStreams } from './streams.ts';
import { metricsOf } from './tenant.ts';

const NAME = 'prometheus-exporter';

const Options = Type.Object({
  /** GET /metrics without the API token (default false). */
  public: Type.Optional(Type.Boolean()),
  /** Also serve GET /metrics on this address, `host:port` (needs public = true). */
  listen: Type.Optional(Type.String()),
});

export default definePlugin({
  name: NAME,
  provides: 'metrics',
  options: Options,
  create(options: Static<typeof Options>) {
    const address = options.listen === undefined ? undefined : parseListen(options.listen);
    if (typeof address === 'string') throw new TenementError('TEN_ERR_PLUGIN_INVALID_OPTIONS', [NAME, `listen ${address}`], { option: 'listen' });
    const open = options.public === true;
    if (address && !open) {
      throw new TenementError('TEN_ERR_PLUGIN_INVALID_OPTIONS', [NAME, 'listen needs public = true: the metrics listener answers without a token'], { option: 'listen' });
    }
    let timer: NodeJS.Timeout | undefined;
    let listener: MetricsListener | undefined;
    let streams: StatsStreams | undefined;
    return {
      async apply(ctx) {
        const metrics = new Metrics(ctx.registry, ctx);
        const stats = new Stats(ctx.registry, metrics.book, metrics.resources);
        ctx.hooks.requestDone.tap(ctx.name, (rc, outcome) => metrics.request(rc, outcome));
        ctx.hooks.probeResult.tap(ctx.name, (inst, r) => metrics.probe(inst, r));
        ctx.hooks.event.tap(ctx.name, (e) => metrics.event(e));
        const text = () => metrics.text();
        const type = metrics.registry.contentType;
        // tenant-aware: a tenant token gets the series of its own instances only
        const tenant = { config: { access: 'tenant' } } as const;
        ctx.http.register(async (app) => {
          app.get('/metrics', tenant, async (req, reply) => {
            const who = open ? null : tenantOf(req);
            return reply.type(type).header('cache-control', 'no-store').send(who === null ? await text() : metricsOf(await text(), who));
          });
        }, { public: open });
        ctx.http.register(async (app) => {
          const live = new StatsStreams(() => stats.snapshot(false), () => app.server.listening);
          streams = live;
          app.get('/api/stats', tenant, async (req) => forTenant(await stats.snapshot(true), tenantOf(req)));
          // no HEAD: a stream's head alone says nothing, and the stream would never end for it
          app.get('/api/stats/stream', { ...tenant, exposeHeadRoute: false }, async (req, reply) => {
            if (live.full) throw new TenementError('TEN_ERR_METRICS_TOO_MANY_STREAMS', [MAX_STREAMS]);
            const headers = reply.getHeaders();
            reply.hijack(); // the response is the stream's from here: fastify neither serializes nor ends it
            live.open(reply.raw, headers as Record<string, string | number | string[]>, tenantOf(req));
          });
        });
        ctx.hooks.ready.tap(ctx.name, () => {
          let ticking = false; // a tick that takes longer than the step (thousands of instances) is not overlapped
          timer = setInterval(() => {
            if (ticking) return;
            ticking = true;
            stats.tick().catch((err) => ctx.log.error({ err }, 'stats history')).finally(() => { ticking = false; });
          }, HISTORY_STEP_SECONDS * 1000);
          timer.unref();
        });
        if (address) {
          listener = await listenMetrics(address.host, address.port, text, type, (err) => ctx.log.error({ err }, 'metrics listener'));
          ctx.log.info({ address: listener.address }, 'metrics listening');
        }
      },
      dispose() {
        clearInterval(timer);
        streams?.close();
        listener?.close();
      },
    };
  },
});
