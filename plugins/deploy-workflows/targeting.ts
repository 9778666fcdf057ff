// Targeting and A/B: a header (X-Tenement-Instance) or cookie names the instance a balanced
// request goes to (dogfooding); `sticky` services keep each user on one instance while weights
// change, with weighted rendezvous hashing so only the share that moves is reassigned.
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import { DNS_LABEL, type Instance, type PluginContext, type RequestContext } from '../../core/index.ts';

export interface TargetingOptions { target_header: string; target_cookie: string; sticky_cookie: string }

/** A cookie's value, from every Cookie field line (read from rawHeaders: building `req.headers`
 *  for every request just to find none would cost the hot path). Parsed by the `cookie` library
 *  only when a Cookie line mentions the name; a malformed %-escape comes back as sent, never a
 *  URIError. */
export function cookie(req: IncomingMessage, name: string): string | undefined {
  const raw = allValues(req, 'cookie');
  if (raw === undefined || !raw.includes(name)) return undefined;
  return parseCookie(raw)[name];
}

/** The first value of a header (`name` lowercase), from rawHeaders. */
function header(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === name.length && raw[i].toLowerCase() === name) return raw[i + 1];
  return undefined;
}

/** Every value of a header joined with "; " (how split Cookie lines combine, RFC 9113 §8.2.3). */
function allValues(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders;
  let out: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === name.length && raw[i].toLowerCase() === name) out = out === undefined ? raw[i + 1] : `${out}; ${raw[i + 1]}`;
  }
  return out;
}

/** Deterministic number in (0, 1) for a (user, instance) pair. */
function unit(key: string, id: string): number {
  const h = createHash('sha1').update(`${key}\0${id}`).digest();
  return (h.readUIntBE(0, 6) + 1) / (2 ** 48 + 2);
}

/**
 * Weighted rendezvous hashing: the candidate with the highest weight / -ln(u(key, id)). A user's
 * pick changes only when an instance it would now prefer gains weight (or its own loses it).
 */
export function stickyPick<T extends Pick<Instance, 'id' | 'weight'>>(candidates: readonly T[], key: string): T | undefined {
  let best: T | undefined;
  let bestScore = -Infinity;
  for (const c of candidates) {
    if (c.weight <= 0) continue;
    const score = c.weight / -Math.log(unit(key, c.id));
    if (score > bestScore) { bestScore = score; best = c; }
  }
  return best;
}

export function applyTargeting(ctx: PluginContext, o: TargetingOptions): void {
  const { hooks, registry } = ctx;
  // before the core host parser (stage 100): a targeted balanced request becomes a direct one
  hooks.resolveTarget.tapPromise({ name: 'deploy-workflows', stage: 0 }, async (rc) => {
    const id = header(rc.req, o.target_header) ?? cookie(rc.req, o.target_cookie);
    if (!id) return undefined;
    const t = rc.target!; // the core host parse, done once before this hook
    if (t.kind !== 'service' || t.instanceId !== undefined || !DNS_LABEL.test(id) || !registry.get(t.service, id)) return undefined;
    return { kind: 'service', service: t.service, instanceId: id };
  });
  hooks.filterCandidates.tap('deploy-workflows', (candidates, rc) => {
    const service = rc.target?.kind === 'service' ? rc.target.service : undefined;
    // ctx.config read per request: a reload may change `sticky`
    const sticky = service === undefined ? undefined : ctx.config.services[service]?.sticky;
    if (!sticky || candidates.length <= 1) return candidates;
    let key = sticky === 'cookie' ? cookie(rc.req, o.sticky_cookie) : header(rc.req, sticky);
    if (!key && sticky === 'cookie' && rc.res) key = assignCookie(rc, o.sticky_cookie);
    if (!key) return candidates;
    const pick = stickyPick(candidates, key);
    return pick ? [pick] : candidates;
  });
}

/** Give a new user a sticky id: a Set-Cookie added after any the app sends in its response. */
function assignCookie(rc: RequestContext, name: string): string {
  const key = randomBytes(12).toString('base64url');
  const line = stringifySetCookie({ name, value: key, path: '/', maxAge: 31_536_000, sameSite: 'lax', httpOnly: true });
  (rc.responseHeaders ??= []).push('set-cookie', line);
  return key;
}
