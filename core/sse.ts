// Server-Sent Events on the management API (WHATWG HTML, "Server-sent events": the
// text/event-stream format), bounded: a client that does not read is not buffered for. Used by
// `GET /api/logs/stream` and by plugins (exported from core/index.ts).
import type { FastifyReply } from 'fastify';

const CHECK_MS = 500;

export interface SseOptions {
  /** Bytes waiting in the socket's buffer beyond which events are skipped (and counted), not
   *  queued. Default 256 KiB (a few thousand log lines). */
  maxBuffered?: number;
  /** A comment line every so many ms keeps proxies and the client's idle timers from closing a
   *  quiet stream. Default 15 000. */
  pingMs?: number;
  /** Extra response headers (the API header). */
  headers?: Record<string, string>;
}

/**
 * An open event stream: `send(event, data)` writes `event: <event>` and `data: <JSON>`; after a
 * client fell behind, the next event it gets is `skipped` with `{ "events": n }`. Closed when the
 * client goes (onClose callbacks run once), when ten serve stops listening (shutdown), or by
 * close().
 */
export class SseStream {
  private skipped = 0;
  private ended = false;
  private readonly closers: Array<() => void> = [];
  private readonly ping: NodeJS.Timeout;
  private readonly max: number;
  /** Events of this turn, written as one chunk on the next (a write per event costs a buffer
   *  entry per event: ~3× the bytes for short log lines). */
  private queue = '';
  private flushing = false;

  constructor(private readonly reply: FastifyReply, o: SseOptions = {}) {
    this.max = o.maxBuffered ?? 256 * 1024;
    reply.hijack(); // the response is ours from here: fastify neither serializes nor ends it
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no', // nginx in front: do not buffer the stream
      ...o.headers,
    });
    reply.raw.write(': stream open\n\n'); // the head and a first byte now: clients know it is live
    // every half second: end the stream once ten serve stops listening (shutting down: an open
    // stream would otherwise hold up the drain of in-flight requests), and ping when it is time
    const pingMs = o.pingMs ?? 15_000;
    let quiet = 0;
    this.ping = setInterval(() => {
      if (!reply.server.server.listening) return this.close();
      if ((quiet += CHECK_MS) >= pingMs) { quiet = 0; this.write(': ping\n\n'); }
    }, CHECK_MS);
    this.ping.unref();
    // the response closes when the client goes (the request may close as soon as its body is read)
    reply.raw.once('close', () => this.close());
    reply.raw.once('error', () => this.close());
  }

  get closed(): boolean { return this.ended; }

  /** Send one event; false when it was skipped (client behind) or the stream is closed. */
  send(event: string, data: unknown): boolean {
    return this.sendJson(event, () => JSON.stringify(data));
  }

  /** send() with the JSON text made by `json()` — called only when the event is sent, so that
   *  many streams can share one serialization (and a skipped event costs none). */
  sendJson(event: string, json: () => string): boolean {
    if (this.ended) return false;
    if (this.reply.raw.writableLength + this.queue.length > this.max) {
      this.skipped++;
      return false;
    }
    if (this.skipped > 0) {
      this.write(`event: skipped\ndata: {"events":${this.skipped}}\n\n`);
      this.skipped = 0;
    }
    // JSON has no raw newlines, so one data line carries it whole
    return this.write(`event: ${event}\ndata: ${json()}\n\n`);
  }

  /** Run `fn` once when the stream closes. */
  onClose(fn: () => void): void {
    if (this.ended) fn();
    else this.closers.push(fn);
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.ping);
    for (const fn of this.closers.splice(0)) fn();
    if (!this.reply.raw.writableEnded) this.reply.raw.end(this.queue);
    this.queue = '';
  }

  private write(chunk: string): boolean {
    if (this.ended || this.reply.raw.destroyed) return false;
    this.queue += chunk;
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        const q = this.queue;
        this.queue = '';
        if (!this.ended && !this.reply.raw.destroyed) this.reply.raw.write(q);
      });
    }
    return true;
  }
}
