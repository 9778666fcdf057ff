// The management API on the {domain} host (or on [settings] api_listen): instances (spawn, stop,
// restart, list, get, weight, health). JSON in and out, every route but /health behind a token,
// admin-only unless it declares another `access` (core/access.ts; docs/access.md). Params, query
// strings and bodies are TypeBox schemas checked by the shared ajv (core/schema.ts,
// requestValidator): a bad name or weight is refused with its own code before a handler runs;
// handlers' types come from the same schemas.
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { checkInstance, installAccess, tenantOf, type RouteEntry } from './access.ts';
import { requireService } from './config-schema.ts';
import { TenementError } from './errors.ts';
import type { HealthChecker } from './health.ts';
import type { Logbook } from './logbook.ts';
import type { Registry } from './registry.ts';
import { NameSchema, requestValidator, WeightSchema } from './schema.ts';
import type { Store } from './store.ts';
import type { Supervisor } from './supervisor.ts';
import { askHost } from './tls-ask.ts';
import type { Tokens } from './tokens.ts';
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
  /** The API tokens (core/tokens.ts). */
  tokens: Tokens;
  /** The route table with each route's access, filled as routes are registered (GET /api/routes). */
  routes: RouteEntry[];
}

const Name = NameSchema;
const Weight = WeightSchema;
const InstanceParams = Type.Object({ service: Name('service'), id: Name('id') });
const ListQuery = Type.Object({ service: Type.Optional(Name('service')) });
/** POST /api/instances; without `weight` the service's own weight applies. */
const SpawnBody = Type.Object({ service: Name('service'), id: Name('id'), weight: Type.Optional(Weight) }, { additionalProperties: false });
const WeightBody = Type.Object({ weight: Weight }, { additionalProperties: false });
type InstanceRoute = { Params: Static<typeof InstanceParams> };
/** GET /api/tls/ask (core/tls-ask.ts): the name Caddy asks about. */
const AskQuery = Type.Object({ domain: Type.String({ minLength: 1, maxLength: 253 }) });

/**
 * The base every management route builds on, the core's and the plugins': the schema validator,
 * the error and 404 handlers, the access check (throttle, token, scope: access.ts) and the API
 * header. Wrapped with fastify-plugin so that it breaks encapsulation on purpose: registered on
 * the root instance, it applies to every route registered after it, in any child context
 * (plugins' ctx.http.register included).
 */
export const apiBase = fp<ApiDeps>(async (app, d) => installApiBase(app, d), { name: 'tenement-api-base', fastify: '5.x' });

function installApiBase(app: FastifyInstance, d: ApiDeps): void {
  app.setValidatorCompiler(requestValidator);
  app.addHook('onRequest', async (_req, reply) => { reply.header(API_HEADER, d.version); });
  installAccess(app, { tokens: d.tokens, settings: d.config.settings, log: d.log, routes: d.routes });
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

/** `ten ps nope`, `ten logs nope`: a service that is neither defined nor has instances is a typo,
 *  not an empty answer: TEN_ERR_INSTANCE_UNKNOWN_SERVICE (404) with the closest defined service. */
export function checkServiceKnown(d: Pick<ApiDeps, 'config' | 'registry'>, service: string | undefined): void {
  if (service !== undefined && d.registry.list(service).length === 0) requireService(d.config, service);
}

export function managementApi(d: ApiDeps): FastifyPluginAsync {
  const { registry, supervisor, log } = d;
  const find = (p: Static<typeof InstanceParams>): Instance => registry.require(p.service, p.id);
  return async (app) => {
    app.get('/health', { config: { access: 'public' } }, async () => ({ status: 'ok', version: d.version }));

    // may Caddy's on-demand TLS get a certificate for this name (ten install --caddy)? public:
    // it tells no more than a request to that host does (core/tls-ask.ts)
    app.get<{ Querystring: Static<typeof AskQuery> }>('/api/tls/ask', { schema: { querystring: AskQuery }, config: { access: 'public' } }, async (req) => {
      const answer = askHost(req.query.domain, d.config, registry);
      if (answer instanceof TenementError) throw answer;
      return answer;
    });

    app.get('/api/services', async () => ({
      services: Object.values(d.config.services).map((s) => ({
        name: s.name, health: s.health ?? null, weight: s.weight, instances: registry.list(s.name).length,
      })),
    }));

    // a tenant token sees its own instances only
    app.get<{ Querystring: Static<typeof ListQuery> }>('/api/instances', { schema: { querystring: ListQuery }, config: { access: 'tenant' } }, async (req) => {
      const tenant = tenantOf(req);
      const list = registry.list(req.query.service);
      if (list.length === 0) checkServiceKnown(d, req.query.service);
      return { instances: (tenant === null ? list : list.filter((i) => i.id === tenant)).map(viewInstance) };
    });

    // a tenant token spawns only instances whose id is its tenant
    app.post<{ Body: Static<typeof SpawnBody> }>('/api/instances', { schema: { body: SpawnBody }, config: { access: 'tenant' } }, async (req, reply) => {
      const b = req.body;
      checkInstance(req, b.service, b.id);
      const svc = requireService(d.config, b.service);
      const inst = registry.create(b.service, b.id, b.weight ?? svc.weight);
      supervisor.start(inst, 'spawned').catch((err) => log.error({ err, instance: inst.key }, 'start failed'));
      return reply.code(201).send(viewInstance(inst));
    });

    // the routes of one instance: a tenant token reaches those whose :id is its tenant
    const one = { schema: { params: InstanceParams }, config: { access: 'instance' } } as const;
    app.get<InstanceRoute>('/api/instances/:service/:id', one, async (req) => viewInstance(find(req.params)));

    app.delete<InstanceRoute>('/api/instances/:service/:id', one, async (req) => {
      const inst = find(req.params);
      await supervisor.stop(inst, 'stopped', 'stopped via API');
      registry.remove(inst);
      return viewInstance(inst);
    });

    app.post<InstanceRoute>('/api/instances/:service/:id/restart', one, async (req) => {
      const inst = find(req.params);
      await supervisor.restart(inst, 'restarted via API');
      return viewInstance(inst);
    });

    app.put<InstanceRoute & { Body: Static<typeof WeightBody> }>('/api/instances/:service/:id/weight', {
      schema: { params: InstanceParams, body: WeightBody }, config: { access: 'instance' },
    }, async (req) => {
      const inst = find(req.params);
      const { weight } = req.body;
      registry.setWeight(inst, weight, 'ten weight');
      log.info({ instance: inst.key, weight }, 'weight set');
      return viewInstance(inst);
    });

    // re-read tenement.toml: 200 with what changed, 422 TEN_ERR_RELOAD_INVALID with every error (admin only)
    app.post('/api/reload', async (req) => {
      // it takes no body: one that is there is a mistake (a file to load, options?), refused
      // rather than ignored
      if (req.body !== undefined) throw new TenementError('TEN_ERR_API_BAD_REQUEST', ['POST /api/reload takes no body (it re-reads the file ten serve was started with)']);
      return d.reload('api');
    });

    app.post<InstanceRoute>('/api/instances/:service/:id/health', one, async (req) => {
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
