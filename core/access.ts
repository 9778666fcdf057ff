// Who may reach which route of the management API (docs/access.md). Deny by default: a route is
// admin-only unless its fastify route config says otherwise with `access`:
//   'public'   — no token at all (GET /health, the dashboard page; ctx.http.register(fn, { public: true }))
//   'admin'    — admin tokens only (the default: every route that says nothing, plugins' too)
//   'instance' — also a tenant token whose tenant is the route's `:id` parameter (checked here,
//                before the handler, so another tenant's instance is a 403 whether it exists or not)
//   'tenant'   — any valid token: the handler itself limits what it reads or does to the caller's
//                tenant, from accessOf(req) (a list filtered, a body's id checked with forbid())
// The check runs in the API base's onRequest hook (api.ts) for every route, after the failed-auth
// throttle (throttle.ts): 401 TEN_ERR_API_UNAUTHORIZED for no, an unknown, a revoked or an expired
// token (RFC 9110 §15.5.2, with `WWW-Authenticate: Bearer` as RFC 6750 §3 asks), 403
// TEN_ERR_API_FORBIDDEN for a valid token out of its scope (RFC 9110 §15.5.4), 429
// TEN_ERR_API_THROTTLED with Retry-After for an address over its failures.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import { verifyBearer } from './auth.ts';
import { TenementError } from './errors.ts';
import { AuthThrottle, clientKey } from './throttle.ts';
import type { Access, Tokens } from './tokens.ts';
import type { Settings } from './types.ts';

export type { Access } from './tokens.ts';

/** How a route may be reached: route config `{ access: RouteAccess }` (see the top of this file). */
export type RouteAccess = 'public' | 'admin' | 'instance' | 'tenant';
const ACCESS: readonly RouteAccess[] = ['public', 'admin', 'instance', 'tenant'];

/** One route of the management API and who may reach it (GET /api/routes). */
export interface RouteEntry { method: string; url: string; access: RouteAccess }

/** The access a route declares: `access`, else `public: true` (older plugins), else admin. */
export function routeAccess(config: unknown): RouteAccess {
  const c = config as { access?: unknown; public?: unknown } | undefined;
  if (typeof c?.access === 'string') return c.access as RouteAccess;
  return c?.public === true ? 'public' : 'admin';
}

const who = new WeakMap<IncomingMessage, Access>();

/** Who sent this request: its token's id and tenant (null: admin). Undefined on a public route. */
export function accessOf(req: FastifyRequest): Access | undefined {
  return who.get(req.raw);
}

/** The tenant this request is limited to, or null for an admin token (or a public route). */
export function tenantOf(req: FastifyRequest): string | null {
  return who.get(req.raw)?.tenant ?? null;
}

/** 403 TEN_ERR_API_FORBIDDEN: the caller's token may not `what` (e.g. "reach web:bob"). */
export function forbid(req: FastifyRequest, what: string): TenementError {
  return new TenementError('TEN_ERR_API_FORBIDDEN', [tenantOf(req) ?? 'admin', what]);
}

/** Throw 403 unless the caller may act on instance id `id` (admin tokens may act on any). */
export function checkInstance(req: FastifyRequest, service: string, id: string): void {
  const tenant = tenantOf(req);
  if (tenant !== null && id !== tenant) throw forbid(req, `reach ${service}:${id}`);
}

const REALM = 'Bearer realm="tenement"';

/**
 * Install the access check on `app` (the API base, before any route): the throttle, the token, the
 * route's scope; `routes` (the route table) is filled as routes are added. A route whose `access` is
 * not one of RouteAccess, or that says 'instance' without an `:id` parameter, fails at startup.
 */
export function installAccess(app: FastifyInstance, d: { tokens: Tokens; settings: Settings; log: Logger; routes: RouteEntry[] }): void {
  const { settings, routes } = d;
  const throttle = new AuthThrottle(settings.auth_fail_limit, settings.auth_fail_window * 1000, settings.auth_fail_clients);
  app.addHook('onRoute', (r: RouteOptions) => {
    const access = routeAccess(r.config);
    if (!ACCESS.includes(access)) throw new Error(`route ${r.url}: config.access must be one of ${ACCESS.join(', ')}, got ${JSON.stringify(access)}`);
    if (access === 'instance' && !/(^|\/):id(\/|$)/.test(r.url)) throw new Error(`route ${r.url}: config.access 'instance' needs an :id parameter`);
    // read when listed: onRoute hooks of a child context (ctx.http.register's { public: true }) run after this one
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, get access() { return routeAccess(r.config); } });
  });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const access = routeAccess(req.routeOptions.config);
    if (access === 'public') return;
    const key = clientKey(req.socket.remoteAddress);
    const wait = throttle.blocked(key);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new TenementError('TEN_ERR_API_THROTTLED', [key, wait]);
    }
    const caller = verifyBearer(d.tokens, req.headers.authorization);
    if (!caller) {
      if (throttle.fail(key)) d.log.warn({ client: key, window_s: settings.auth_fail_window }, `management API: ${settings.auth_fail_limit} failed authentications from ${key}: throttled until the window ends`);
      // RFC 6750 §3.1: no error code when the request had no credentials at all
      reply.header('www-authenticate', req.headers.authorization === undefined ? REALM : `${REALM}, error="invalid_token"`);
      throw new TenementError('TEN_ERR_API_UNAUTHORIZED');
    }
    who.set(req.raw, caller);
    if (caller.tenant === null || access === 'tenant' || req.is404) return;
    const id = (req.params as Record<string, string> | undefined)?.id;
    if (access === 'instance' && id === caller.tenant) return;
    reply.header('www-authenticate', `${REALM}, error="insufficient_scope"`);
    const service = (req.params as Record<string, string> | undefined)?.service;
    throw forbid(req, access === 'instance' && id !== undefined ? `reach ${service ?? '?'}:${id}` : `use ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`);
  });
}
