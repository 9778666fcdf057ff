// The client side of the listener: what one client connection may make ten serve hold. Each
// connection has at most `max_pipelined` requests being answered; the rest of what it pipelined
// waits unparsed in the kernel (the socket is paused) or, for what one read already parsed,
// in a short queue with a hard cap. Every request ends exactly once — answered, or its
// connection closed — and request bodies that stop flowing are cut after client_body_timeout.
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TenementError } from './errors.ts';
import { rawError } from './proxy.ts';

/** Requests one socket read can carry past max_pipelined before the connection is dropped as hostile. */
const PENDING_CAP = 4096;
/** How long a connection closed with a request body unread keeps reading and dropping it (RFC 9112 §9.6). */
export const LINGER_MS = 2000;

/** A request being answered: `end(aborted)` runs once, when it is answered or its client left. */
export interface Live {
  end(aborted: boolean): void;
  /** A body still arriving, for the idle check (undefined when none is expected). */
  body?: { req: http.IncomingMessage; bytes: number; since: number; timeout(): void };
}

const kConn = Symbol('tenement.conn');

export class Conn {
  active = 0;
  private readonly pending: Array<() => void> = [];
  private paused = false;
  private closed = false;
  /** An answer went out before its request's body was read: closing must linger (see constructor). */
  unread = false;
  readonly live = new Set<Live>();

  private readonly resume: () => void;

  constructor(readonly socket: Socket, private readonly maxPipelined: number) {
    (socket as Socket & { [kConn]?: Conn })[kConn] = this;
    socket.once('close', () => this.close());
    // Node's http server resumes a socket from several places of its own (dumping a request body
    // nobody read, draining its output queue): while this connection is over its bound, only
    // untrack() may resume it, or a client that never reads its answers is read without end
    const resume = socket.resume.bind(socket);
    this.resume = () => void resume();
    socket.resume = () => (this.paused ? socket : resume());
    // Node closes a `Connection: close` answer's socket with destroySoon(). With request bytes still
    // unread (a 413 before the body), the kernel would answer them with a reset that can discard the
    // answer at the client. So, as RFC 9112 §9.6 says: half-close, then read and drop what arrives
    // until the client closes or LINGER_MS pass. (Found by the API fuzz test: 1 in 15 413s lost.)
    const destroySoon = socket.destroySoon.bind(socket);
    socket.destroySoon = () => {
      if (!this.unread) return destroySoon();
      this.paused = false;
      socket.once('end', () => socket.destroy());
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
      socket.end();
      resume();
    };
  }

  static of(socket: Socket): Conn | undefined {
    return (socket as Socket & { [kConn]?: Conn })[kConn];
  }

  /** Run `start` now, or once fewer than max_pipelined requests of this connection are open. */
  admit(start: () => void): void {
    if (this.active < this.maxPipelined) return start();
    if (this.pending.length >= PENDING_CAP) {
      this.socket.destroy(); // thousands of unanswered requests in one read: not a client, a flood
      return;
    }
    this.pending.push(start);
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  track(l: Live): void {
    this.active += 1;
    this.live.add(l);
  }

  untrack(l: Live): void {
    if (!this.live.delete(l)) return;
    this.active -= 1;
    while (!this.closed && this.active < this.maxPipelined && this.pending.length > 0) this.pending.shift()!();
    if (this.paused && this.pending.length === 0 && !this.closed) {
      this.paused = false;
      this.resume();
    }
  }

  private close(): void {
    this.closed = true;
    this.pending.length = 0;
    for (const l of [...this.live]) l.end(true);
  }
}

/**
 * Request bodies that stop arriving: one timer for all of them, which compares each socket's
 * bytesRead with the last look (no listener on the body, so nothing changes how it flows).
 */
export class BodyWatch {
  private readonly bodies = new Set<NonNullable<Live['body']>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  add(b: NonNullable<Live['body']>): void {
    this.bodies.add(b);
    this.timer ??= setInterval(() => this.sweep(), Math.min(1000, this.timeoutMs / 2)).unref();
  }

  delete(b: Live['body']): void {
    if (b) this.bodies.delete(b);
  }

  private sweep(): void {
    const now = Date.now();
    for (const b of this.bodies) {
      if (b.req.complete || b.req.destroyed) { this.bodies.delete(b); continue; }
      const bytes = b.req.socket.bytesRead;
      if (bytes !== b.bytes) { b.bytes = bytes; b.since = now; continue; }
      if (now - b.since >= this.timeoutMs) {
        this.bodies.delete(b);
        b.timeout();
      }
    }
    if (this.bodies.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.bodies.clear();
  }
}

/**
 * What to answer a request Node's parser rejected (RFC 9112 §2.2, §3; RFC 9110 §15.5.9; RFC 6585
 * §5), or undefined to just close (the socket already failed).
 */
export function parseErrorAnswer(err: NodeJS.ErrnoException, limits: { headerTimeout: number; maxHeaderSize: number }): TenementError | undefined {
  switch (err.code) {
    case 'ECONNRESET': case 'EPIPE': case 'ETIMEDOUT': return undefined;
    case 'HPE_HEADER_OVERFLOW': return new TenementError('TEN_ERR_HTTP_HEADERS_TOO_LARGE', [limits.maxHeaderSize]);
    case 'ERR_HTTP_REQUEST_TIMEOUT': return new TenementError('TEN_ERR_HTTP_REQUEST_TIMEOUT', [`no complete request head within client_header_timeout = ${limits.headerTimeout} s`]);
    default: return new TenementError('TEN_ERR_HTTP_BAD_REQUEST', [describeParseError(err)]);
  }
}

/** Node's parser rejected what a client sent on `socket` (its 'clientError'): answer with
 *  parseErrorAnswer()'s error when the socket can still take it, then close; else just close. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, limits: { headerTimeout: number; maxHeaderSize: number }): void {
  const answer = parseErrorAnswer(err, limits);
  const s = socket as Socket;
  const busy = (s as Socket & { _httpMessage?: http.ServerResponse })._httpMessage?.headersSent;
  if (answer && s.writable && !busy) {
    // answer, then close once it is out; the rest of what the client sends is read and dropped
    // so that the close is a FIN, not a reset that could discard the answer (RFC 9112 §9.6)
    s.end(rawError(answer));
    s.resume();
    setTimeout(() => s.destroy(), LINGER_MS).unref();
  } else {
    s.destroy();
  }
}

function describeParseError(err: NodeJS.ErrnoException & { reason?: string }): string {
  const reason = err.reason ?? err.message;
  return `${reason.replace(/^Parse Error: /, '')} (${err.code ?? 'parse error'})`;
}

/** The request's Transfer-Encoding codings, lowercased and comma-joined, or undefined. Node's parser
 *  only lets through lists that end in chunked (RFC 9112 §6.3). */
export function transferCodings(raw: readonly string[]): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 17 && raw[i].toLowerCase() === 'transfer-encoding') {
      const v = raw[i + 1].split(',').map((t) => t.trim().toLowerCase()).filter(Boolean).join(', ');
      out = out === undefined ? v : `${out}, ${v}`;
    }
  }
  return out;
}

/**
 * The Host of a request (RFC 9112 §3.2): exactly one field line whose value is a valid
 * authority (host [":" port], RFC 3986 §3.2.2–§3.2.3); an HTTP/1.1 request without one is bad.
 * Returns the value, or a TenementError to answer with 400.
 */
export function requestAuthority(req: http.IncomingMessage): string | TenementError {
  const raw = req.rawHeaders;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') {
      if (host !== undefined) return new TenementError('TEN_ERR_HTTP_BAD_REQUEST', ['more than one Host header']);
      host = raw[i + 1];
    }
  }
  if (host === undefined) {
    return req.httpVersion === '1.0' ? '' : new TenementError('TEN_ERR_HTTP_BAD_REQUEST', ['no Host header']);
  }
  if (!AUTHORITY.test(host)) return new TenementError('TEN_ERR_HTTP_BAD_REQUEST', [`invalid Host header ${JSON.stringify(host.slice(0, 100))}`]);
  return host;
}

/** host = IP-literal / IPv4address / reg-name, then an optional port of digits (RFC 3986 §3.2.2–3). */
export const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d{0,5})?$/;
