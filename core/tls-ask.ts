// GET /api/tls/ask?domain=NAME: may a TLS terminator in front of tenement (Caddy's on-demand TLS,
// `ten install --caddy`) obtain a certificate for NAME? Caddy asks before it requests one and goes
// on only on a 200 (https://caddyserver.com/docs/caddyfile/options#on-demand-tls), so that nobody
// can make it request certificates for made-up names (and spend the CA's rate limits).
//
// 200 for the names tenement routes: the domain itself, `{service}.{domain}` of a service in the
// config, `{id}.{service}.{domain}` of an instance that exists (any state). Otherwise 404 with the
// code the proxy itself answers that host with. Public (no token): it tells nobody more than a
// request to that host would, and reads memory only.
import { serviceOf } from './config-schema.ts';
import { TenementError } from './errors.ts';
import type { Registry } from './registry.ts';
import { hostName, parseHost } from './router.ts';
import type { TenementConfig } from './types.ts';

/** What the route answers for `name`: the target it routes to, or the error the proxy gives. */
export function askHost(name: string, config: TenementConfig, registry: Registry): { host: string; routes: string } | TenementError {
  const host = hostName(name);
  const domain = config.settings.domain;
  if (host === domain) return { host, routes: 'management' };
  const t = parseHost(host, domain);
  if (t.kind === 'management') return new TenementError('TEN_ERR_ROUTE_FOREIGN_HOST', [host, domain]);
  if (!serviceOf(config, t.service)) return new TenementError('TEN_ERR_ROUTE_UNKNOWN_SERVICE', [t.service]);
  if (t.instanceId === undefined) return { host, routes: t.service };
  const key = `${t.service}:${t.instanceId}`;
  return registry.get(t.service, t.instanceId) ? { host, routes: key } : new TenementError('TEN_ERR_ROUTE_UNKNOWN_INSTANCE', [key]);
}
