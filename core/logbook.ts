// The logbook: every line of the apps' output and of the event stream, kept three ways — a
// bounded ring per instance in memory (the latest lines, at once), the persisted store
// (logs.db, written by the log-writer worker thread, searched by the API) and the live
// followers (`ten logs -f`, the dashboard). Lines the writer has not acknowledged yet are kept
// here, bounded, and merged into query answers, so a line is found the moment it is read.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { LineSink } from './log-lines.ts';
import { LogStore, type LogLine, type LogQuery, type LogStream } from './log-store.ts';
import type { FromWriter, ToWriter, WriterData } from './log-writer.ts';

export interface LogbookOptions {
  dataDir: string;
  /** Retention: bytes of logs.db in use (log_max_size). */
  maxBytes: number;
  /** Retention: age of the oldest line kept, in ms (log_max_age). */
  maxAgeMs: number;
  /** Lines kept in memory per instance (log_ring_size). */
  ringLines: number;
  log: Logger;
}

/** A live reader: gets each new line that matches `q` (its `limit` is ignored). */
export interface Follower { q: Omit<LogQuery, 'limit'>; send(line: LogLine): void }

/** Lines waiting for the writer, at most: beyond, a flood is counted and dropped, never queued. */
export const MAX_UNWRITTEN = 50_000;
/** Bytes of messages kept per instance ring, at most, whatever ringLines says. */
const RING_BYTES = 512 * 1024;
/** Rings kept at most (instances come and go with spawn_on_request): the oldest ring goes first. */
const MAX_RINGS = 4096;
const FLUSH_MS = 100;
const FLUSH_LINES = 2000;

export class Logbook {
  private seq: number;
  private readonly reader: LogStore;
  private worker?: Worker;
  /** Not yet sent to the writer / sent, not yet acknowledged; both in seq order. */
  private pending: LogLine[] = [];
  private unacked: LogLine[] = [];
  private readonly rings = new Map<string, Ring>();
  private readonly followers = new Set<Follower>();
  /** Lines dropped per instance key since the last notice. */
  private readonly lost = new Map<string, number>();
  private flushTimer?: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly o: LogbookOptions) {
    this.reader = new LogStore(o.dataDir); // creates the file and its segments table
    this.seq = this.reader.lastSeq();
    this.startWriter();
  }

  private startWriter(): void {
    const data: WriterData = { dataDir: this.o.dataDir, maxBytes: this.o.maxBytes, maxAgeMs: this.o.maxAgeMs, retainEveryMs: 5000 };
    // in the bundle, dist/log-writer.js; from source, log-writer.ts through tsx (a worker does
    // not inherit the loader hooks of the thread that starts it)
    const w = import.meta.url.endsWith('.ts')
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((t) => t.tsImport(${JSON.stringify(new URL('./log-writer.ts', import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`, { eval: true, workerData: data })
      : new Worker(new URL('./log-writer.js', import.meta.url), { workerData: data });
    w.on('message', (m: FromWriter) => {
      if (m.type === 'written') this.unacked = this.unacked.filter((l) => l.seq > m.seq);
      else if (m.type === 'dropped') this.o.log.debug({ lines: m.lines }, 'log retention dropped the oldest lines');
      else this.o.log.error({ err: m.message }, 'log store write failed');
    });
    w.on('error', (err) => this.o.log.error({ err }, 'log writer failed'));
    w.once('exit', () => {
      if (this.closing || this.worker !== w) return;
      // restart it and send again what it had not acknowledged (bounded by MAX_UNWRITTEN)
      this.o.log.error('log writer exited: restarting it');
      this.worker = undefined;
      setTimeout(() => { if (!this.closing) { this.startWriter(); this.pending = [...this.unacked, ...this.pending]; this.unacked = []; } }, 1000).unref();
    });
    this.worker = w;
  }

  /** Add a line (seq assigned here): ring, followers, then the store. */
  append(line: Omit<LogLine, 'seq'>): void {
    const l: LogLine = { seq: ++this.seq, ...line };
    const key = `${l.service}:${l.instance}`;
    let ring = this.rings.get(key);
    if (!ring) {
      if (this.rings.size >= MAX_RINGS) this.rings.delete(this.rings.keys().next().value!);
      this.rings.set(key, ring = new Ring(this.o.ringLines, RING_BYTES));
    }
    ring.push(l);
    for (const f of this.followers) if (matches(l, f.q)) f.send(l);
    this.pending.push(l);
    if (this.pending.length >= FLUSH_LINES) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** A LineSink for one stream of one process (LineSplitter's target). */
  sink(service: string, instance: string, stream: LogStream, pid: number | null): LineSink {
    return {
      line: (message) => this.append({ t: Date.now(), stream, service, instance, pid, message }),
      full: () => this.pending.length + this.unacked.length >= MAX_UNWRITTEN,
      dropped: (n) => this.lost.set(`${service}:${instance}`, (this.lost.get(`${service}:${instance}`) ?? 0) + n),
    };
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const [key, n] of this.lost) {
      const [service, instance] = key.split(':');
      this.lost.delete(key);
      this.append({ t: Date.now(), stream: 'event', service, instance, pid: null, message: `${n} lines of output dropped: written faster than the log store keeps (${MAX_UNWRITTEN} lines waiting)` });
    }
    if (this.pending.length === 0 || !this.worker) return;
    const lines = this.pending;
    this.pending = [];
    for (const l of lines) this.unacked.push(l);
    this.worker.postMessage({ type: 'write', lines } satisfies ToWriter);
  }

  /** The latest `q.limit` lines matching `q`, oldest first: the ring when it alone can answer,
   *  else the store plus the lines the writer has not stored yet. */
  query(q: LogQuery): LogLine[] {
    if (q.instance !== undefined && q.service !== undefined && !q.grep && q.since === undefined && q.until === undefined) {
      const fromRing = this.rings.get(`${q.service}:${q.instance}`)?.lines().filter((l) => matches(l, q)) ?? [];
      if (fromRing.length >= q.limit) return fromRing.slice(-q.limit);
    }
    const stored = this.reader.query(q);
    const have = new Set(stored.map((l) => l.seq));
    const fresh = [...this.unacked, ...this.pending].filter((l) => !have.has(l.seq) && matches(l, q));
    const all = fresh.length ? [...stored, ...fresh].sort((a, b) => a.seq - b.seq) : stored;
    return all.length > q.limit ? all.slice(-q.limit) : all;
  }

  /** Send each new matching line to `f` until the returned function is called. Synchronous with
   *  query(), so `query` then `follow` in one turn misses no line and repeats none. */
  follow(f: Follower): () => void {
    this.followers.add(f);
    return () => { this.followers.delete(f); };
  }

  /** Lines read but not yet stored by the writer (at most MAX_UNWRITTEN). */
  get backlog(): number { return this.pending.length + this.unacked.length; }

  /** How many followers there are (bounded by the API). */
  get followerCount(): number { return this.followers.size; }

  /** Send what is left to the writer and stop it (its last batch is written before it exits). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.flush();
    this.closing = true;
    this.followers.clear();
    const w = this.worker;
    if (w) {
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      w.postMessage({ type: 'close' } satisfies ToWriter);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      await w.terminate();
    }
    this.reader.close();
  }
}

/** Does `l` pass the filters of `q` (grep: case-insensitive substring)? */
export function matches(l: LogLine, q: Omit<LogQuery, 'limit'>): boolean {
  return (q.service === undefined || l.service === q.service)
    && (q.instance === undefined || l.instance === q.instance)
    && (q.stream === undefined || l.stream === q.stream)
    && (q.since === undefined || l.t >= q.since)
    && (q.until === undefined || l.t < q.until)
    && (!q.grep || l.message.toLowerCase().includes(q.grep.toLowerCase()));
}

/** The latest lines of one instance: at most `max` lines and `maxBytes` of messages. */
class Ring {
  private buf: LogLine[] = [];
  private head = 0;
  private bytes = 0;
  constructor(private readonly max: number, private readonly maxBytes: number) {}

  push(l: LogLine): void {
    this.buf.push(l);
    this.bytes += l.message.length;
    while (this.buf.length - this.head > this.max || (this.bytes > this.maxBytes && this.buf.length - this.head > 1)) {
      this.bytes -= this.buf[this.head].message.length;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.buf.length) { this.buf = this.buf.slice(this.head); this.head = 0; }
  }

  lines(): LogLine[] {
    return this.buf.slice(this.head);
  }
}
