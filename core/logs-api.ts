// The logs on the management API: GET /api/logs (search: the latest lines that match) and
// GET /api/logs/stream (follow: Server-Sent Events, `event: line`, after the latest `n` lines).
// Both behind the token; a tenant token gets the lines of its own instances only (access.ts).
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { checkInstance, tenantOf } from './access.ts';
import { checkServiceKnown, type ApiDeps } from './api.ts';
import { TenementError } from './errors.ts';
import { LOG_STREAMS, type LogLine, type LogQuery } from './log-store.ts';
import { NameSchema } from './schema.ts';
import { SseStream } from './sse.ts';
import { API_HEADER } from './view.ts';

/** Live log streams open at once, at most (each holds a socket and up to 256 KiB of buffer). */
export const MAX_FOLLOWERS = 64;

const Filters = {
  service: Type.Optional(NameSchema('service')),
  id: Type.Optional(NameSchema('id')),
  stream: Type.Optional(Type.Unsafe<LogQuery['stream']>({ type: 'string', enum: [...LOG_STREAMS] })),
  since: Type.Optional(Type.String({ maxLength: 40 })),
  until: Type.Optional(Type.String({ maxLength: 40 })),
  // no control characters: a NUL would end the text early in SQLite's LIKE (and match everything)
  grep: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]+$', description: 'text without control characters' })),
};
// numbers in a query string are strings: checked by pattern (the shared ajv does not coerce)
const SearchQuery = Type.Object({ ...Filters, limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,3}|10000)$', description: 'a whole number from 1 to 10000' })) });
const FollowQuery = Type.Object({ ...Filters, n: Type.Optional(Type.String({ pattern: '^(?:[0-9]{1,3}|1000)$', description: 'a whole number from 0 to 1000' })) });
type Filter = Static<typeof FollowQuery> | Static<typeof SearchQuery>;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time for `since`/`until`, in ms since the epoch: a duration back from now (`90s`,
 * `10m`, `2h`, `7d`), an RFC 3339 date-time (`2026-11-29T21:00:00Z`), or ms since the epoch.
 * TEN_ERR_API_BAD_REQUEST otherwise.
 */
export function parseTime(raw: string, name: string, now = Date.now()): number {
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(raw);
  if (d) return now - Number(d[1]) * UNIT_MS[d[2]];
  if (/^\d{12,16}$/.test(raw)) return Number(raw);
  const date = /^(\d{4})-(\d\d)-(\d\d)([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/i.exec(raw);
  // Date.parse rolls 2026-02-30 over to March 2: a day the month does not have is refused
  const real = date && new Date(Date.UTC(+date[1], +date[2] - 1, +date[3])).getUTCDate() === +date[3];
  const t = real ? Date.parse(raw) : NaN;
  if (Number.isFinite(t)) return t;
  throw new TenementError('TEN_ERR_API_BAD_REQUEST', [`${name} ${JSON.stringify(raw)}: expected a duration back from now (10m, 2h, 7d), an RFC 3339 time (2026-11-29T21:00:00Z) or ms since the epoch`]);
}

/** The store's query for the API's filters. A tenant token's query is limited to the instances
 *  whose id is its tenant (in any service; events about a whole service are not theirs): another
 *  id is TEN_ERR_API_FORBIDDEN. */
function toQuery(req: FastifyRequest, f: Filter, limit: number): LogQuery {
  if (f.id !== undefined && f.service === undefined) throw new TenementError('TEN_ERR_API_BAD_REQUEST', ['id needs service (an instance is service:id)']);
  if (f.id !== undefined) checkInstance(req, f.service!, f.id);
  return {
    service: f.service, instance: f.id ?? tenantOf(req) ?? undefined, stream: f.stream, grep: f.grep, limit,
    since: f.since === undefined ? undefined : parseTime(f.since, 'since'),
    until: f.until === undefined ? undefined : parseTime(f.until, 'until'),
  };
}

/** The JSON of a line, made once for all the streams that send it (the last line is memoized). */
let memo: { line: LogLine | undefined; json: string } = { line: undefined, json: '' };
function serialized(l: LogLine): string {
  if (memo.line !== l) memo = { line: l, json: JSON.stringify(l) };
  return memo.json;
}

export function logsApi(d: Pick<ApiDeps, 'logbook' | 'version' | 'config' | 'registry'>): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: Static<typeof SearchQuery> }>('/api/logs', { schema: { querystring: SearchQuery }, config: { access: 'tenant' } }, async (req) => {
      const lines = d.logbook.query(toQuery(req, req.query, Number(req.query.limit ?? 100)));
      // a removed service's lines still show; no line of an unknown one is a typo
      if (lines.length === 0) checkServiceKnown(d, req.query.service);
      return { lines };
    });

    // no HEAD: a stream's head alone says nothing, and the stream would never end for it
    app.get<{ Querystring: Static<typeof FollowQuery> }>('/api/logs/stream', { schema: { querystring: FollowQuery }, config: { access: 'tenant' }, exposeHeadRoute: false }, async (req, reply) => {
      const q = toQuery(req, req.query, Number(req.query.n ?? 0));
      checkServiceKnown(d, req.query.service);
      if (d.logbook.followerCount >= MAX_FOLLOWERS) throw new TenementError('TEN_ERR_LOGS_TOO_MANY_FOLLOWERS', [MAX_FOLLOWERS]);
      const backlog = q.limit > 0 ? d.logbook.query(q) : [];
      const sse = new SseStream(reply, { headers: { [API_HEADER]: d.version } });
      for (const l of backlog) sse.send('line', l);
      // same turn as the query above: no line between the two is missed or repeated
      const { limit: _, ...live } = q;
      const left = live.until === undefined ? Infinity : live.until - Date.now();
      if (left <= 0) { sse.close(); return; } // a closed window: nothing new can match
      const unfollow = d.logbook.follow({ q: live, send: (l) => { sse.sendJson('line', () => serialized(l)); } });
      sse.onClose(unfollow);
      if (left < Infinity) { // the stream ends when its window does
        const end = setTimeout(() => sse.close(), Math.min(left, 2 ** 31 - 1));
        sse.onClose(() => clearTimeout(end));
      }
    });
  };
}
