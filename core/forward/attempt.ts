// One attempt to forward a request to an instance and stream the answer back: undici for the hot
// path, node:http for `Expect: 100-continue` (undici refuses that header on HTTP/1.1). Either way
// the attempt ends by calling `done(err, started)` exactly once; the proxy decides what an error
// means (retry, 502, 504). The attempt never answers the client with an error itself.
import http from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { responseHeaders } from './headers.ts';
import { httpTarget, type Address } from '../net.ts';

/** An attempt's failure: a Node/undici error with its code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, …). */
export type AttemptError = Error & { code?: string };

/** `started`: the response head has been written to the client (an error then can only cut the body). */
export type AttemptDone = (err: AttemptError | null, started: boolean) => void;

export interface AttemptRequest {
  method: string;
  /** The request target as received, in origin-form (RFC 9112 §3.2.1): passed byte for byte. */
  path: string;
  /** Flat [name, value, …] list, already through requestHeaders(). */
  headers: string[];
  /** The client's request (its body is streamed), or null when it has none. */
  body: Readable | null;
  /** request_timeout: from the request sent to the response head (ms). */
  headersTimeoutMs: number;
  /** response_idle_timeout: longest silence inside the response body (ms). */
  bodyTimeoutMs: number;
  /** Header pairs plugins add to the response (e.g. a sticky cookie). */
  extra?: string[];
  /** A HEAD request: its response has no body, whatever its Content-Length says. */
  head: boolean;
}

/** A running attempt: `cancel()` aborts it (the client left); `done` then reports the error. */
export interface Attempt { cancel(err: Error): void }

/**
 * 1xx responses other than 100 and 101 are forwarded (RFC 9110 §15.2: a proxy MUST forward 1xx
 * responses unless it asked for them itself); Node writes only 102 and 103 directly.
 */
function informational(res: http.ServerResponse, status: number, raw: ReadonlyArray<Buffer | string>): void {
  if (res.req.httpVersion === '1.0') return; // RFC 9110 §15.2: never to an HTTP/1.0 client
  if (status === 102) res.writeProcessing();
  else if (status === 103) {
    const hints: Record<string, string | string[]> = {};
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1').toLowerCase();
      const value = raw[i + 1].toString('latin1');
      const prev = hints[name];
      hints[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
    }
    if (hints.link !== undefined) res.writeEarlyHints(hints as { link: string | string[] });
  }
}

/** Passes the app's trailer fields on (RFC 9110 §6.5); Node sends them when the response to the
 *  client is chunked (RFC 9112 §7.1.2) and drops them otherwise, as a length-framed message has
 *  no place for them. */
function trailers(res: http.ServerResponse, raw: ReadonlyArray<Buffer | string> | null | undefined): void {
  if (!raw || raw.length === 0) return;
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i].toString('latin1'), raw[i + 1].toString('latin1')]);
  try {
    res.addTrailers(pairs);
  } catch {
    // a trailer field Node refuses to write (a character it does not allow) is dropped, not fatal
  }
}

/**
 * undici's native (v7) handler interface: raw header Buffers in wire order, a resume function for
 * back-pressure, onConnect's abort. The response head is held until the end of the tick it came
 * in: a response that is complete by then (the usual small one) goes out in one write, with a
 * Content-Length when the app chunked it; otherwise the head is sent alone at once (an SSE
 * app's head reaches the client before its first event) and the body streams as it comes.
 */
class UndiciAttempt implements Dispatcher.DispatchHandler, Attempt {
  private abortFn?: (err?: Error) => void;
  private cancelled?: Error;
  private resumeFn?: () => void;
  /** done() was called: the attempt is over, whatever undici reports after (an error after onComplete). */
  private finished = false;
  /** A head not written yet, and the body bytes that came with it in the same tick. */
  private head?: { status: number; text: string; headers: string[] };
  private queued: Buffer[] = [];

  constructor(private readonly res: http.ServerResponse, private readonly r: AttemptRequest, private readonly done: AttemptDone) {}

  onConnect(abort: (err?: Error) => void): void {
    if (this.cancelled) abort(this.cancelled);
    else this.abortFn = abort;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (status < 200) {
      informational(this.res, status, raw);
      return true;
    }
    this.resumeFn = resume;
    this.head = { status, text: statusText, headers: responseHeaders(raw, this.r.extra) };
    process.nextTick(flushHead, this);
    return true;
  }

  /** End of the head's tick: the response is still coming, so send what there is and stream. */
  flush(): void {
    const head = this.head;
    if (!head || this.res.destroyed) return;
    this.head = undefined;
    const bad = writeHead(this.res, head);
    if (bad) return void this.abortFn?.(bad); // → onError → the proxy answers 502
    if (this.queued.length === 0) return void this.res.flushHeaders();
    const chunks = this.queued;
    this.queued = [];
    // past the high-water mark, the next onData sees write() return false and pauses undici
    for (const c of chunks) this.res.write(c);
  }

  onData(chunk: Buffer): boolean {
    if (this.head) {
      this.queued.push(chunk);
      return true;
    }
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resumeFn!);
    return false;
  }

  onComplete(raw: string[] | null): void {
    const head = this.head;
    if (head) {
      // the whole response arrived in one tick: one write, framed by length (RFC 9112 §6.3)
      this.head = undefined;
      const body = this.queued.length === 1 ? this.queued[0] : Buffer.concat(this.queued);
      this.queued = [];
      const withTrailers = raw !== null && raw.length > 0; // they need chunked framing to travel
      if (!withTrailers && !this.r.head && head.status !== 204 && head.status !== 304 && !hasField(head.headers, 'content-length')) {
        head.headers.push('content-length', String(body.length));
      }
      const bad = writeHead(this.res, head);
      if (bad) return this.finish(bad);
      if (withTrailers) {
        this.res.write(body);
        trailers(this.res, raw);
      }
      this.res.end(withTrailers ? undefined : body);
    } else {
      trailers(this.res, raw);
      this.res.end();
    }
    this.finish(null);
  }

  onError(err: Error): void {
    // a 304 may carry the Content-Length of the representation it stands for (RFC 9110 §8.6), which
    // undici reads as a body that never came: the answer is complete, pass it on
    if ((err as AttemptError).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' && (this.head?.status ?? this.res.statusCode) === 304 && !this.res.writableEnded) {
      return this.onComplete(null);
    }
    // a head held back for the tick is dropped: the client gets tenement's answer instead
    this.head = undefined;
    this.queued = [];
    this.finish(err);
  }

  cancel(err: Error): void {
    if (this.finished) return;
    if (this.abortFn) this.abortFn(err);
    else this.cancelled = err;
  }

  private finish(err: AttemptError | null): void {
    if (this.finished) return;
    this.finished = true;
    // "started" = the client has seen the head; a held-back head never left
    this.done(err, err === null || this.res.headersSent);
  }
}

/**
 * Write a response head the app sent, as far as this client can take it: the reason phrase only
 * when it is visible ASCII (RFC 9112 §4 allows obs-text, which Node refuses to write), and no
 * `Trailer` field when the response to this client cannot be chunked (an HTTP/1.0 client, or a
 * Content-Length), where trailers are dropped anyway (RFC 9112 §7.1.2). Returns an error instead
 * of throwing when Node still refuses the head: the attempt then fails like a bad upstream answer.
 */
function writeHead(res: http.ServerResponse, head: { status: number; text: string; headers: string[] }): AttemptError | undefined {
  const text = /^[\t\x20-\x7e]*$/.test(head.text) && head.text !== '' ? head.text : undefined;
  let headers = head.headers;
  if (hasField(headers, 'trailer') && (res.req.httpVersion === '1.0' || hasField(headers, 'content-length'))) {
    headers = headers.filter((_, i) => i % 2 === 1 ? headers[i - 1].toLowerCase() !== 'trailer' : headers[i].toLowerCase() !== 'trailer');
  }
  try {
    res.writeHead(head.status, text, headers);
    return undefined;
  } catch (err) {
    return Object.assign(new Error(`the app's response head cannot be passed on: ${(err as Error).message}`), { code: 'TEN_BAD_RESPONSE' });
  }
}

/** Whether a flat header list has `name` (lowercase). */
function hasField(headers: readonly string[], name: string): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i].length === name.length && headers[i].toLowerCase() === name) return true;
  return false;
}

function flushHead(a: UndiciAttempt): void {
  a.flush();
}

/** Forward through an undici dispatcher (the instance's Pool, or a one-off Client for a retry). */
export function sendUndici(dispatcher: Dispatcher, res: http.ServerResponse, r: AttemptRequest, done: AttemptDone): Attempt {
  const a = new UndiciAttempt(res, r, done);
  dispatcher.dispatch({
    path: r.path, method: r.method, headers: r.headers, body: r.body,
    headersTimeout: r.headersTimeoutMs, bodyTimeout: r.bodyTimeoutMs,
  }, a);
  return a;
}

/**
 * `Expect: 100-continue` kept end to end (RFC 9110 §10.1.1): the expectation goes to the app, and
 * the body is sent only after the app's 100, which reaches the client; a final status the app
 * sends first reaches the client before any body byte is read, and the request is not sent on.
 */
export function sendExpectContinue(address: Address, agent: http.Agent, res: http.ServerResponse, r: AttemptRequest, done: AttemptDone): Attempt {
  let started = false;
  let finished = false;
  const finish = (err: AttemptError | null) => {
    if (finished) return;
    finished = true;
    done(err, started);
  };
  const out = http.request({
    ...httpTarget(address),
    method: r.method, path: r.path, agent, headers: r.headers, // the client's Expect is among them (end to end)
  });
  let sentBody = false;
  out.setTimeout(r.headersTimeoutMs, () => out.destroy(Object.assign(new Error('no response head in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
  out.on('continue', () => {
    res.writeContinue();
    sentBody = true;
    if (r.body) r.body.pipe(out);
    else out.end();
  });
  out.on('information', (info) => {
    if (info.statusCode !== 100) informational(res, info.statusCode, info.rawHeaders);
  });
  out.on('response', (up) => {
    started = true;
    const bad = writeHead(res, { status: up.statusCode ?? 502, text: up.statusMessage ?? '', headers: responseHeaders(up.rawHeaders, r.extra) });
    if (bad) return void out.destroy(bad);
    res.flushHeaders();
    out.setTimeout(r.bodyTimeoutMs, () => out.destroy(Object.assign(new Error('response body idle'), { code: 'UND_ERR_BODY_TIMEOUT' })));
    up.on('data', (c: Buffer) => { if (!res.write(c)) { up.pause(); res.once('drain', () => up.resume()); } });
    up.once('end', () => {
      trailers(res, up.rawTrailers);
      res.end();
      // the app answered before asking for the body: the request on that connection is incomplete
      if (!sentBody) out.destroy();
      finish(null);
    });
    up.once('error', (err) => finish(err));
    up.once('aborted', () => finish(Object.assign(new Error('the app closed the connection mid-response'), { code: 'ECONNRESET' })));
  });
  out.once('error', (err) => finish(err));
  out.flushHeaders();
  return { cancel: (err) => { if (!finished) out.destroy(err); } };
}
