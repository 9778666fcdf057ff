// GET /api/stats/stream: the live statistics as Server-Sent Events (WHATWG HTML, "Server-sent
// events": `text/event-stream`): one `stats` event every 2 s for every client, from one timer, and
// a `: ping` comment at the start and every 10 s. Bounded: at most MAX_STREAMS clients (then 503);
// a client that does not read is dropped, not buffered for — when the previous event is still
// waiting in Node's buffer at the next one (the socket's buffer in the kernel already full), its
// connection is closed. Streams end when the client goes, when ten serve stops listening
// (shutdown: the drain would otherwise wait for them), or at dispose(). A client opened with a
// tenant token gets only the rows of its tenant's instances (each distinct view serialized once
// per event).
import type http from 'node:http';
import type { StatsView } from './view.ts';

/** Clients at once. */
export const MAX_STREAMS = 32;
/** ms between two `stats` events. */
export const EVENT_MS = 2000;
/** ms between two checks of the listener (shutdown) and pings. */
const CHECK_MS = 500;
const PING_MS = 10_000;

/** `tenant`: only the instances whose id it is (a tenant token); null: all (an admin token). */
interface Client { res: http.ServerResponse; tenant: string | null }

export class StatsStreams {
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | undefined;
  private lastEvent = 0;
  /** An event being computed (data() is asynchronous): the next check does not start another. */
  private busy = false;
  private lastPing = 0;

  /** `data()`: one event's statistics (computed once per event for every client);
   *  `listening()`: false once ten serve is shutting down. */
  constructor(private readonly data: () => Promise<StatsView>, private readonly listening: () => boolean) {}

  get size(): number {
    return this.clients.size;
  }

  /** Whether one more client may connect. */
  get full(): boolean {
    return this.clients.size >= MAX_STREAMS;
  }

  /** Take over `res` (the route hijacked it): write the head and a first event now. `headers`:
   *  those the route set already (the API header); `tenant`: see Client. */
  open(res: http.ServerResponse, headers: Record<string, string | number | string[]>, tenant: string | null = null): void {
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no', // nginx in front: pass events on at once
    });
    const c: Client = { res, tenant };
    this.clients.add(c);
    const gone = () => this.drop(c);
    // the response's 'close' (the connection went, or the response ended), not the request's:
    // an IncomingMessage also closes once its body is read
    res.once('close', gone);
    res.once('error', gone);
    this.write(c, `: ping\nretry: ${EVENT_MS}\n\n`);
    this.data().then((v) => { if (this.clients.has(c)) this.write(c, event(json(v, tenant))); }, () => this.drop(c, 'destroy'));
    if (!this.timer) {
      this.lastEvent = this.lastPing = Date.now();
      this.timer = setInterval(() => this.check(), CHECK_MS);
      this.timer.unref();
    }
  }

  /** End every stream (dispose, shutdown). */
  close(): void {
    for (const c of [...this.clients]) this.drop(c, 'end');
  }

  private check(): void {
    if (!this.listening()) return this.close();
    const now = Date.now();
    if (now - this.lastEvent >= EVENT_MS - CHECK_MS / 2) {
      if (this.busy) return;
      this.lastEvent = now;
      this.busy = true;
      this.data().then((v) => {
        const texts = new Map<string | null, string>();
        for (const c of [...this.clients]) {
          let text = texts.get(c.tenant);
          if (text === undefined) texts.set(c.tenant, text = event(json(v, c.tenant)));
          this.write(c, text);
        }
      }, () => this.close()).finally(() => { this.busy = false; });
    } else if (now - this.lastPing >= PING_MS) {
      this.lastPing = now;
      for (const c of [...this.clients]) this.write(c, ': ping\n\n');
    }
  }

  private write(c: Client, text: string): void {
    // the last event has not left Node's buffer in 2 s: the client does not read
    if (c.res.writableNeedDrain) return this.drop(c, 'destroy');
    c.res.write(text);
  }

  private drop(c: Client, how?: 'end' | 'destroy'): void {
    if (!this.clients.delete(c)) return;
    if (how === 'end') c.res.end();
    else if (how === 'destroy') c.res.destroy();
    if (this.clients.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** The statistics `tenant` may see: its own instances' rows (all of them for null). */
export function forTenant(v: StatsView, tenant: string | null): StatsView {
  return tenant === null ? v : { ...v, instances: v.instances.filter((i) => i.instance === tenant) };
}

const json = (v: StatsView, tenant: string | null) => JSON.stringify(forTenant(v, tenant));

/** One `stats` event; the JSON has no raw newline, so one data line carries it. */
function event(json: string): string {
  return `event: stats\ndata: ${json}\n\n`;
}
