// Token management on the API (admin tokens only: `ten token create|list|revoke`), who a token is
// (any token: GET /api/whoami, what the dashboard asks after sign-in) and the route table with
// each route's access (admin: GET /api/routes). docs/access.md and docs/cli.md describe them.
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { accessOf, type RouteEntry } from './access.ts';
import { DNS_LABEL } from './config-schema.ts';
import type { TokenInfo, Tokens } from './tokens.ts';
import type { TenementConfig } from './types.ts';

/** Seconds a token may be made to last, at most (10 years). */
export const MAX_EXPIRES_IN = 10 * 365 * 86_400;

const CreateBody = Type.Object({
  /** Absent: an admin token. */
  tenant: Type.Optional(Type.String({ pattern: DNS_LABEL.source, title: 'tenant', errorCode: 'TEN_ERR_API_INVALID_NAME' })),
  description: Type.Optional(Type.String({ maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'text of at most 200 characters, without control characters' })),
  /** Seconds from now; absent: it never expires. */
  expires_in: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXPIRES_IN, description: `whole seconds from 1 to ${MAX_EXPIRES_IN}` })),
}, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ pattern: '^(?:[0-9a-f]{12}|admin)$', description: 'a token id (12 hex digits, or admin)' }) });

/** A token as the API shows it (never its secret or hash); times are ISO strings. */
export interface TokenView {
  id: string;
  /** null: an admin token. */
  tenant: string | null;
  description: string;
  created_at: string;
  /** null: never. */
  expires_at: string | null;
  last_used_at: string | null;
  /** Expired tokens are refused (401) and listed until revoked. */
  expired: boolean;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export function viewToken(t: TokenInfo, now = Date.now()): TokenView {
  return {
    id: t.id, tenant: t.tenant, description: t.description, created_at: iso(t.created_at)!, expires_at: iso(t.expires_at),
    last_used_at: iso(t.last_used_at), expired: t.expires_at !== null && t.expires_at <= now,
  };
}

export function tokensApi(d: { tokens: Tokens; routes: RouteEntry[]; config: TenementConfig }): FastifyPluginAsync {
  return async (app) => {
    // the token is in this answer only: it is not kept anywhere but as a hash
    app.post<{ Body: Static<typeof CreateBody> }>('/api/tokens', { schema: { body: CreateBody } }, async (req, reply) => {
      const b = req.body;
      const now = Date.now();
      const { token, info } = d.tokens.create(b.tenant ?? null, b.description ?? '', b.expires_in === undefined ? null : now + b.expires_in * 1000, now);
      return reply.code(201).header('cache-control', 'no-store').send({ token, ...viewToken(info, now) });
    });

    app.get('/api/tokens', async () => ({ tokens: d.tokens.list().map((t) => viewToken(t)) }));

    app.delete<{ Params: Static<typeof IdParams> }>('/api/tokens/:id', { schema: { params: IdParams } }, async (req) => viewToken(d.tokens.revoke(req.params.id)));

    // who the caller is; a tenant also learns the services it may spawn its instance in
    app.get('/api/whoami', { config: { access: 'tenant' } }, async (req) => {
      const a = accessOf(req)!;
      const t = d.tokens.list().find((x) => x.id === a.token);
      return { token: a.token, tenant: a.tenant, expires_at: iso(t?.expires_at ?? null), services: Object.keys(d.config.services) };
    });

    app.get('/api/routes', async () => ({ routes: d.routes }));
  };
}
