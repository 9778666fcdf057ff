// The management API on the {domain} host: instances (spawn, stop, restart, list, get, weight,
// health). JSON in and out, bodies JSON-schema validated, every route but /health behind the token.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { verifyBearer } from './auth.ts';
import { serviceOf } from './config-schema.ts';
import { TenementError } from './errors.ts';
import type { HealthChecker } from './health.ts';
import { assertName, assertWeight, type Registry } from './registry.ts';
import type { Store } from './store.ts';
import type { Supervisor } from './supervisor.ts';
import type { Instance, TenementConfig } from './types.ts';
import { API_HEADER, viewInstance } from './view.ts';

export interface ApiDeps {
  config: TenementConfig;
  registry: Registry;
  supervisor: Supervisor;
  health: HealthChecker;
  store: Store;
  log: Logger;
  version: string;
}

const PUBLIC = new Set(['/health', '/']);
const instanceParams = { type: 'object', properties: { service: { type: 'string' }, id: { type: 'string' } } };
const body = (properties: Record<string, object>, required: string[]) =>
  ({ type: 'object', properties, required, additionalProperties: false });

/** Install the error/404 handlers, the token check and the API header on the root instance. */
export function installApiBase(app: FastifyInstance, d: ApiDeps): void {
  app.addHook('onRequest', async (_req, reply) => { reply.header(API_HEADER, d.version); });
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0];
    if (PUBLIC.has(path)) return;
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
  const { registry, supervisor, config, log } = d;
  const find = (p: unknown): Instance => {
    const { service, id } = p as { service: string; id: string };
    assertName('service', service);
    assertName('id', id);
    return registry.require(service, id);
  };
  return async (app) => {
    app.get('/health', async () => ({ status: 'ok', version: d.version }));
    app.get('/', async (_req, reply) => reply.type('text/html').send(placeholderPage(d.version)));

    app.get('/api/services', async () => ({
      services: Object.values(config.services).map((s) => ({
        name: s.name, health: s.health ?? null, weight: s.weight, instances: registry.list(s.name).length,
      })),
    }));

    app.get('/api/instances', { schema: { querystring: { type: 'object', properties: { service: { type: 'string' } } } } },
      async (req) => ({ instances: registry.list((req.query as { service?: string }).service).map(viewInstance) }));

    app.post('/api/instances', {
      schema: { body: body({ service: { type: 'string' }, id: { type: 'string' }, weight: {} }, ['service', 'id']) },
    }, async (req, reply) => {
      const b = req.body as { service: string; id: string; weight?: unknown };
      assertName('service', b.service);
      assertName('id', b.id);
      const svc = serviceOf(config, b.service);
      if (!svc) throw new TenementError('TEN_ERR_INSTANCE_UNKNOWN_SERVICE', [b.service]);
      const weight = b.weight ?? svc.weight;
      assertWeight(weight);
      const inst = registry.create(b.service, b.id, weight);
      supervisor.start(inst, 'spawned').catch((err) => log.error({ err, instance: inst.key }, 'start failed'));
      return reply.code(201).send(viewInstance(inst));
    });

    app.get('/api/instances/:service/:id', { schema: { params: instanceParams } }, async (req) => viewInstance(find(req.params)));

    app.delete('/api/instances/:service/:id', { schema: { params: instanceParams } }, async (req) => {
      const inst = find(req.params);
      await supervisor.stop(inst, 'stopped', 'stopped via API');
      registry.remove(inst);
      return viewInstance(inst);
    });

    app.post('/api/instances/:service/:id/restart', { schema: { params: instanceParams } }, async (req) => {
      const inst = find(req.params);
      await supervisor.restart(inst, 'restarted via API');
      return viewInstance(inst);
    });

    app.put('/api/instances/:service/:id/weight', {
      schema: { params: instanceParams, body: body({ weight: {} }, ['weight']) },
    }, async (req) => {
      const inst = find(req.params);
      const { weight } = req.body as { weight: unknown };
      assertWeight(weight);
      registry.setWeight(inst, weight, 'ten weight');
      log.info({ instance: inst.key, weight }, 'weight set');
      return viewInstance(inst);
    });

    app.post('/api/instances/:service/:id/health', { schema: { params: instanceParams } }, async (req) => {
      const inst = find(req.params);
      return { instance: viewInstance(inst), probe: await d.health.probe(inst) };
    });
  };
}

function placeholderPage(version: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>tenement</title></head>
<body style="font-family:system-ui;margin:3rem"><h1>tenement ${version}</h1>
<p>This host serves the management API. Use the <code>ten</code> CLI (<code>ten ps</code>) or
<code>GET /api/instances</code> with <code>Authorization: Bearer &lt;token&gt;</code>.</p></body></html>`;
}
