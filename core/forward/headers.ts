// Header rules of an HTTP intermediary, as pure functions over raw header lists (the flat
// [name, value, name, value, …] form of Node's `rawHeaders`): order and duplicates are kept,
// hop-by-hop fields are dropped, and tenement's own fields (X-Forwarded-*, Forwarded, Via) are
// added from the real connection.

/**
 * Fields that describe one connection, never forwarded (RFC 9110 §7.6.1: Connection and the fields
 * it names, plus Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade; RFC 9112 §6.1
 * for Transfer-Encoding, which the next hop re-frames). Proxy-Authorization and
 * Proxy-Authenticate are meant for the proxy itself (RFC 9110 §11.7.1–§11.7.2). HTTP2-Settings
 * only means something on its own connection (RFC 9113 §3.1 note on h2c).
 */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade',
  'proxy-authorization', 'proxy-authenticate', 'http2-settings',
]);

/** The tokens of a comma-separated list field, lowercased (RFC 9110 §5.6.1). */
function tokens(value: string): string[] {
  const out: string[] = [];
  for (const t of value.split(',')) {
    const v = t.trim().toLowerCase();
    if (v !== '') out.push(v);
  }
  return out;
}

/** Names listed in the message's Connection field lines, lowercased (RFC 9110 §7.6.1). */
function connectionNamed(raw: readonly string[]): Set<string> | undefined {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toLowerCase() === 'connection') {
      for (const t of tokens(raw[i + 1])) (named ??= new Set()).add(t);
    }
  }
  return named;
}

/** What tenement knows of the client connection a request came on. */
export interface ClientInfo {
  /** The peer's address as the socket reports it. */
  peer: string;
  /** The peer is in `[settings] trusted_proxies`: its X-Forwarded-* and Forwarded are kept and extended. */
  trusted: boolean;
  /** The Host the client sent (the authority), for X-Forwarded-Host and Forwarded host=. */
  authority: string;
  /** tenement's own listening port, for X-Forwarded-Port. */
  port: number;
  /** The scheme the request came with: `https` on the TLS listener ([settings.tls]), for
   *  X-Forwarded-Proto and Forwarded proto= (RFC 7239 §5.4). */
  proto: 'http' | 'https';
  /** Also send `Forwarded` (RFC 7239). */
  forwarded: boolean;
  /** "1.1" or "1.0": the protocol the request came with, for Via (RFC 9110 §7.6.3). */
  httpVersion: string;
  /** Decrement Max-Forwards (TRACE and OPTIONS only, RFC 9110 §7.6.2). */
  maxForwards: boolean;
}

/** A Forwarded node or host value: a token as is, anything else quoted (RFC 7239 §4, §6). */
function forwardedValue(v: string): string {
  if (/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(v)) return v;
  return `"${v.replace(/["\\]/g, '\\$&')}"`;
}

/** RFC 7239 §6: an IPv6 node is written in brackets and quoted. */
function forwardedFor(peer: string): string {
  const addr = peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
  return addr.includes(':') ? `"[${addr}]"` : addr;
}

/**
 * The header list to send to the app for a request whose raw headers are `raw`: hop-by-hop fields
 * removed (`TE: trailers` kept as the only TE value an intermediary may pass, RFC 9110 §10.1.4),
 * end-to-end fields in their order with duplicates, `Host` as the client sent it (or `host`
 * when the request came in absolute-form, RFC 9112 §3.2.2), then X-Forwarded-For/Proto/Host/Port
 * (and Forwarded) set from the real connection, client-supplied values dropped unless the peer
 * is trusted, in which case they are extended, and a Via entry (RFC 9110 §7.6.3).
 */
export function requestHeaders(raw: readonly string[], c: ClientInfo, hostOverride?: string): string[] {
  const named = connectionNamed(raw);
  const out: string[] = [];
  let xff: string | undefined;
  let xfp: string | undefined;
  let xfh: string | undefined;
  let xfport: string | undefined;
  let fwd: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    const value = raw[i + 1];
    if (HOP_BY_HOP.has(lower) || (named?.has(lower) && lower !== 'host')) { // Host is routed on: Connection cannot remove it
      if (lower === 'te' && tokens(value).some((t) => t === 'trailers' || t.startsWith('trailers;'))) out.push('te', 'trailers');
      continue;
    }
    // an HTTP/1.0 request's 100-continue expectation is ignored (RFC 9110 §10.1.1)
    if (lower === 'expect' && c.httpVersion === '1.0') continue;
    // X_Forwarded_For: CGI-style servers read it as X-Forwarded-For (nginx drops such names too)
    if (lower.includes('_')) {
      const dashed = lower.replace(/_/g, '-');
      if (dashed.startsWith('x-forwarded-') || dashed === 'forwarded') continue;
    }
    if (lower.charCodeAt(0) === 120 /* x */ && lower.startsWith('x-forwarded-')) {
      if (!c.trusted) continue;
      const join = (prev: string | undefined) => (prev === undefined ? value : `${prev}, ${value}`);
      if (lower === 'x-forwarded-for') xff = join(xff);
      else if (lower === 'x-forwarded-proto') xfp ??= value;
      else if (lower === 'x-forwarded-host') xfh ??= value;
      else if (lower === 'x-forwarded-port') xfport ??= value;
      else out.push(name, value);
      continue;
    }
    if (lower === 'forwarded') {
      if (c.trusted) fwd = fwd === undefined ? value : `${fwd}, ${value}`;
      continue;
    }
    if (lower === 'host' && hostOverride !== undefined) {
      out.push(name, hostOverride);
      continue;
    }
    if (c.maxForwards && lower === 'max-forwards' && /^\d+$/.test(value.trim())) {
      out.push(name, String(Math.max(0, Number(value) - 1)));
      continue;
    }
    out.push(name, value);
  }
  const authority = hostOverride ?? c.authority;
  const peer = c.peer.startsWith('::ffff:') && c.peer.includes('.') ? c.peer.slice(7) : c.peer;
  out.push(
    'x-forwarded-for', xff === undefined ? peer : `${xff}, ${peer}`,
    'x-forwarded-proto', xfp ?? c.proto,
    'x-forwarded-host', xfh ?? authority,
    'x-forwarded-port', xfport ?? String(c.port),
  );
  if (c.forwarded) {
    const own = `for=${forwardedFor(c.peer)};host=${forwardedValue(authority)};proto=${c.proto}`;
    out.push('forwarded', fwd === undefined ? own : `${fwd}, ${own}`);
  }
  out.push('via', `${c.httpVersion} tenement`);
  return out;
}

/**
 * The header list to send to the client for a response whose raw headers came from the app
 * (Buffers from undici, or strings from node:http): hop-by-hop fields and those the app's
 * Connection names removed (RFC 9110 §7.6.1), everything else in order with duplicates, then a
 * Via entry (RFC 9110 §7.6.3) and any `extra` pairs a plugin added (e.g. a sticky cookie).
 */
export function responseHeaders(raw: ReadonlyArray<Buffer | string>, extra?: readonly string[]): string[] {
  const strings = typeof raw[0] === 'string' ? (raw as readonly string[]) : raw.map((b) => b.toString('latin1'));
  const named = connectionNamed(strings);
  const out: string[] = [];
  for (let i = 0; i < strings.length; i += 2) {
    const lower = strings[i].toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    out.push(strings[i], strings[i + 1]);
  }
  out.push('via', '1.1 tenement');
  if (extra) for (const x of extra) out.push(x);
  return out;
}
