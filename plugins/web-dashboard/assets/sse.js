// Server-sent events over fetch(): EventSource cannot send an Authorization header, so the page
// reads text/event-stream bodies itself. SseParser follows the WHATWG event-stream format
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
// lines end in CRLF, LF or CR; `:` starts a comment; `event`, `data`, `id`, `retry` fields; an
// empty line dispatches. follow() keeps one stream open, reconnecting with backoff.
import { ApiError, errorFromResponse } from './api.js';

/** A line longer than this (characters) is an error rather than a buffer that grows for ever. */
const MAX_LINE = 1024 * 1024;
/** No byte (event or `: ping` comment) for this long: the connection is taken as dead. */
const STALL_MS = 45_000;
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15_000, 30_000];

/** Incremental parser: feed() text chunks as they come; onEvent({ event, data, id }) per event. */
export class SseParser {
  #buf = '';
  #data = [];
  #event = '';
  #id = '';
  #onEvent;

  /** @param {(e: { event: string, data: string, id: string }) => void} onEvent */
  constructor(onEvent) {
    this.#onEvent = onEvent;
  }

  /** Parse `text` (any split of the stream). Throws on a line over 1 MiB. */
  feed(text) {
    this.#buf += text;
    const eol = /\r\n|\r|\n/g;
    let start = 0;
    for (let m = eol.exec(this.#buf); m; m = eol.exec(this.#buf)) {
      // a CR at the very end may be the first half of a CRLF split across chunks: wait for more
      if (m[0] === '\r' && m.index === this.#buf.length - 1) break;
      this.#line(this.#buf.slice(start, m.index));
      start = m.index + m[0].length;
    }
    this.#buf = this.#buf.slice(start);
    if (this.#buf.length > MAX_LINE) throw new Error(`event stream line longer than ${MAX_LINE} characters`);
  }

  #line(line) {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return; // comment (`: ping`)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    // `retry` is ignored: follow() has its own backoff
  }

  #dispatch() {
    if (this.#data.length > 0) this.#onEvent({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id });
    this.#data = [];
    this.#event = '';
  }
}

/**
 * Read one event stream until it ends. Resolves when the server closes it; rejects with an
 * ApiError for a non-2xx answer (401, 404, …), with an AbortError when `signal` aborts, and with
 * an Error when the answer is not text/event-stream or nothing arrives for 45 s.
 * @param {string} url same-origin path with query
 * @param {{ headers?: Record<string, string>, signal: AbortSignal, onEvent: (e: { event: string, data: string }) => void, onOpen?: () => void }} o
 */
export async function readSse(url, o) {
  const ctl = new AbortController();
  const abort = () => ctl.abort(o.signal.reason);
  o.signal.addEventListener('abort', abort, { once: true });
  let stall;
  const arm = () => {
    clearTimeout(stall);
    stall = setTimeout(() => ctl.abort(new Error(`no data for ${STALL_MS / 1000} s`)), STALL_MS);
  };
  try {
    arm();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...o.headers }, signal: ctl.signal, cache: 'no-store' });
    if (!res.ok) throw await errorFromResponse(res);
    if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) throw new Error(`${url} did not answer with an event stream`);
    o.onOpen?.();
    const parser = new SseParser(o.onEvent);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      arm();
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  } catch (err) {
    // an abort by the stall timer rejects with its reason; one by the caller stays an abort
    if (o.signal.aborted) throw o.signal.reason ?? err;
    throw ctl.signal.aborted && ctl.signal.reason instanceof Error ? ctl.signal.reason : err;
  } finally {
    clearTimeout(stall);
    o.signal.removeEventListener('abort', abort);
  }
}

/**
 * Keep an event stream open: reconnect after it ends or fails (1 s, then backing off up to 30 s),
 * except on answers that will not change by retrying: 401 (onUnauthorized) and any other 4xx, such
 * as a 404 when the route is not there (onRefused).
 * onState('live' | 'reconnecting') tells the page how it is going. Returns stop().
 * @param {() => string} url called before each connection (the query may change)
 * @param {{ headers: () => Record<string, string>, onEvent: (e: { event: string, data: string }) => void,
 *   onOpen?: () => void, onState?: (s: 'live' | 'reconnecting', err?: unknown) => void,
 *   onUnauthorized?: (e: ApiError) => void, onRefused?: (e: ApiError) => void }} o
 */
export function follow(url, o) {
  const ctl = new AbortController();
  let attempt = 0;
  (async () => {
    while (!ctl.signal.aborted) {
      let failure;
      try {
        await readSse(url(), {
          headers: o.headers(), signal: ctl.signal, onEvent: o.onEvent,
          onOpen: () => { attempt = 0; o.onState?.('live'); o.onOpen?.(); },
        });
      } catch (err) {
        if (ctl.signal.aborted) return;
        if (err instanceof ApiError && err.status === 401) return o.onUnauthorized?.(err);
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) return o.onRefused?.(err);
        failure = err;
      }
      if (ctl.signal.aborted) return;
      o.onState?.('reconnecting', failure);
      const delay = BACKOFF_MS[Math.min(attempt++, BACKOFF_MS.length - 1)];
      await new Promise((r) => {
        const wake = () => { clearTimeout(t); ctl.signal.removeEventListener('abort', wake); r(undefined); };
        const t = setTimeout(wake, delay);
        ctl.signal.addEventListener('abort', wake, { once: true });
      });
    }
  })();
  return { stop: () => ctl.abort() };
}
