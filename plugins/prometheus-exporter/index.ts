// prometheus-exporter (slot `metrics`, the default): Prometheus metrics of the proxy, the instances
// and ten serve itself (prom-client), served as GET /metrics on the management host, behind the
// API token. docs/plugins/prometheus-exporter.md lists the metrics.
import { definePlugin } from '../../core/index.ts';
import { Metrics } from './metrics.ts';

export default definePlugin({
  name: 'prometheus-exporter',
  provides: 'metrics',
  create() {
    return {
      apply(ctx) {
        const metrics = new Metrics(ctx.registry, ctx.config);
        ctx.hooks.requestDone.tap(ctx.name, (rc, outcome) => metrics.request(rc, outcome));
        ctx.hooks.probeResult.tap(ctx.name, (inst, r) => metrics.probe(inst, r));
        ctx.http.register(async (app) => {
          app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.text()));
        });
      },
    };
  },
});
