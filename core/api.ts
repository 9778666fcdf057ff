// The management API on the {domain} host: instances (spawn, stop, restart, list, get, weight,
// health). JSON in and out, every route but /health behind the token. Params, query strings and
// bodies are TypeBox schemas checked by the shared ajv (core/schema.ts, requestValidator): a bad
// name or weight is refused with its own code before a handler runs; handlers' types come from
// the same schemas.
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { verifyBearer } from './auth.ts';
import { serviceOf } from './config-schema.ts';
import { TenementError } from './errors.ts';
import type { HealthChecker } from './health.ts';
import type { Logbook } from './logbook.ts';
import type { Registry } from './registry.ts';
import { NameSchema, requestValidator, WeightSchema } from './schema.ts';
import type { Store } from './store.ts';
import type { Supervisor } from './supervisor.ts';
import type { Instance, ReloadReport, TenementConfig } from './types.ts';
import { API_HEADER, viewInstance } from './view.ts';

export interface ApiDeps {
  /** The config in force, read at each request (a reload replaces it: core/live-config.ts). */
  readonly config: TenementConfig;
  registry: Registry;
  supervisor: Supervisor;
  health: HealthChecker;
  store: Store;
  log: Logger;
  version: string;
  /** The logs (GET /api/logs, /api/logs/stream: logs-api.ts). */
  logbook: Logbook;
  /** Reload tenement.toml (POST /api/reload; core/reload.ts). */
  reload(source: string): Promise<ReloadReport>;
}

const Name = NameSchema;
const Weight = WeightSchema;
const InstanceParams = Type.Object({ service: Name('service'), id: Name('id') });
const ListQuery = Type.Object({ service: Type.Optional(Name('service')) });
/** POST /api/instances; without `weight` the service's own weight applies. */
const SpawnBody = Type.Object({ service: Name('service'), id: Name('id'), weight: Type.Optional(Weight) }, { additionalProperties: false });
const WeightBody = Type.Object({ weight: Weight }, { additionalProperties: false });
type InstanceRoute = { Params: Static<typeof InstanceParams> };

/**
 * The base every management route builds on, the core's and the plugins': the schema validator,
 * the error and 404 handlers, the token check and the API header. Wrapped with fastify-plugin so
 * that it breaks encapsulation on purpose: registered on the root instance, it applies to every
 * route registered after it, in any child context (plugins' ctx.http.register included).
 */
export const apiBase = fp<ApiDeps>(async (app, d) => installApiBase(app, d), { name: 'tenement-api-base', fastify: '5.x' });

function installApiBase(app: FastifyInstance, d: ApiDeps): void {
  app.setValidatorCompiler(requestValidator);
  app.addHook('onRequest', async (_req, reply) => { reply.header(API_HEADER, d.version); });
  app.addHook('onRequest', async (req) => {
    // routes that answer without the token say so in their config (`/health`, the dashboard page)
    if ((req.routeOptions.config as { public?: boolean } | undefined)?.public === true) return;
    if (!verifyBearer(d.store, req.headers.authorization)) throw new TenementError('TEN_ERR_API_UNAUTHORIZED');
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new TenementError('TEN_ERR_API_NOT_FOUND', [req.method, req.url.split('?')[0]]);
    reply.code(404).send(e.toJSON());
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    let e: TenementError;
    if (err instanceof TenementError) e = err;
    else if (err.statusCode === 413) e = new TenementError('TEN_ERR_API_BODY_TOO_LARGE', [app.initialConfig.bodyLimit ?? 0]);
    else if (err.validation || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
      e = new TenementError('TEN_ERR_API_BAD_REQUEST', [err.message]);
    } else {
      d.log.error({ err, url: req.url }, 'management API error');
      e = new TenementError('TEN_ERR_API_INTERNAL');
    }
    reply.code(e.statusCode).send(e.toJSON());
  });
}

export function managementApi(d: ApiDeps): FastifyPluginAsync {
  const { registry, supervisor, log } = d;
  const find = (p: Static<typeof InstanceParams>): Instance => registry.require(p.service, p.id);
  return async (app) => {
    app.get('/health', { config: { public: true } }, async () => ({ status: 'ok', version: d.version }));

    app.get('/api/services', async () => ({
      services: Object.values(d.config.services).map((s) => ({
        name: s.name, health: s.health ?? null, weight: s.weight, instances: registry.list(s.name).length,
      })),
    }));

    app.get<{ Querystring: Static<typeof ListQuery> }>('/api/instances', { schema: { querystring: ListQuery } },
      async (req) => ({ instances: registry.list(req.query.service).map(viewInstance) }));

    app.post<{ Body: Static<typeof SpawnBody> }>('/api/instances', { schema: { body: SpawnBody } }, async (req, reply) => {
      const b = req.body;
      const svc = serviceOf(d.config, b.service);
      if (!svc) throw new TenementError('TEN_ERR_INSTANCE_UNKNOWN_SERVICE', [b.service]);
      const inst = registry.create(b.service, b.id, b.weight ?? svc.weight);
      supervisor.start(inst, 'spawned').catch((err) => log.error({ err, instance: inst.key }, 'start failed'));
      return reply.code(201).send(viewInstance(inst));
    });

    app.get<InstanceRoute>('/api/instances/:service/:id', { schema: { params: InstanceParams } }, async (req) => viewInstance(find(req.params)));

    app.delete<InstanceRoute>('/api/instances/:service/:id', { schema: { params: InstanceParams } }, async (req) => {
      const inst = find(req.params);
      await supervisor.stop(inst, 'stopped', 'stopped via API');
      registry.remove(inst);
      return viewInstance(inst);
    });

    app.post<InstanceRoute>('/api/instances/:service/:id/restart', { schema: { params: InstanceParams } }, async (req) => {
      const inst = find(req.params);
      await supervisor.restart(inst, 'restarted via API');
      return viewInstance(inst);
    });

    app.put<InstanceRoute & { Body: Static<typeof WeightBody> }>('/api/instances/:service/:id/weight', {
      schema: { params: InstanceParams, body: WeightBody },
    }, async (req) => {
      const inst = find(req.params);
      const { weight } = req.body;
      registry.setWeight(inst, weight, 'ten weight');
      log.info({ instance: inst.key, weight }, 'weight set');
      return viewInstance(inst);
    });

    // re-read tenement.toml: 200 with what changed, 422 TEN_ERR_RELOAD_INVALID with every error
    app.post('/api/reload', async () => d.reload('api'));

    app.post<InstanceRoute>('/api/instances/:service/:id/health', { schema: { params: InstanceParams } }, async (req) => {
      const inst = find(req.params);
      return { instance: viewInstance(inst), probe: await d.health.probe(inst) };
    });
  };
}

/** The page at `/` when the dashboard slot is off. */
export function placeholderPage(version: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>tenement</title></head>
<body style="font-family:system-ui;margin:3rem"><h1>tenement ${version}</h1>
<p>This host serves the management API. Use the <code>ten</code> CLI (<code>ten ps</code>) or
<code>GET /api/instances</code> with <code>Authorization: Bearer &lt;token&gt;</code>.</p></body></html>`;
}
