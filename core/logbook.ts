// The logbook: every line of the apps' output and of the event stream, kept three ways — a
// bounded ring per instance in memory (the latest lines, at once), the persisted store
// (logs.db, written by the log-writer worker thread, searched by the API) and the live
// followers (`ten logs -f`, the dashboard). Lines the writer has not acknowledged yet are kept
// here, bounded, and merged into query answers, so a line is found the moment it is read.
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TenementError } from './errors.ts';
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
/** Lines of one instance waiting for the writer, at most: one flooding app does not take the
 *  others' share. */
export const MAX_UNWRITTEN_PER_INSTANCE = 10_000;
/** Bytes of messages in one batch to the writer, at most (a segment overshoots by one batch). */
const BATCH_BYTES = 1024 * 1024;
/** Bytes of messages kept per instance ring, at most, whatever ringLines says. */
const RING_BYTES = 512 * 1024;
/** Rings kept at most (instances come and go with spawn_on_request): the oldest ring goes first. */
const MAX_RINGS = 4096;
const FLUSH_MS = 100;
const FLUSH_LINES = 2000;

/** Where lines come from (an instance, or a service's events): what it has waiting for the
 *  writer, and the bytes it lost since the last notice. */
interface Source { service: string; instance: string; unwritten: number; lost: number }

export class Logbook {
  private seq: number;
  private readonly reader: LogStore;
  private worker?: Worker;
  /** Not yet sent to the writer, with their sources; in seq order. */
  private pending: LogLine[] = [];
  private pendingSrc: Source[] = [];
  private pendingBytes = 0;
  /** Sent, not yet acknowledged, from `ackHead` on; in seq order. */
  private unacked: LogLine[] = [];
  private unackedSrc: Source[] = [];
  private ackHead = 0;
  private readonly rings = new Map<string, Ring>();
  private readonly sources = new Map<string, Source>();
  private readonly losing = new Set<Source>();
  private readonly followers = new Set<Follower>();
  private flushTimer?: NodeJS.Timeout;
  private closing = false;
  /** Writer errors are logged once a minute at most, with how many there were. */
  private errors = { last: 0, count: 0 };

  constructor(private o: LogbookOptions) {
    const opened = openLogStore(o.dataDir, o.log);
    this.reader = opened.store;
    this.seq = opened.seq;
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
      if (m.type === 'written') this.acknowledged(m.seq);
      else if (m.type === 'dropped') this.o.log.debug({ lines: m.lines }, 'log retention dropped the oldest lines');
      else this.writeFailed(m.message);
    });
    w.on('error', (err) => this.o.log.error({ err }, 'log writer failed'));
    w.once('exit', () => {
      if (this.closing || this.worker !== w) return;
      // restart it and send again what it had not acknowledged (bounded by MAX_UNWRITTEN)
      this.o.log.error('log writer exited: restarting it');
      this.worker = undefined;
      setTimeout(() => {
        if (this.closing) return;
        this.startWriter();
        // what the old writer had not acknowledged goes first (it skips what it had stored)
        this.pending = [...this.unacked.slice(this.ackHead), ...this.pending];
        this.pendingSrc = [...this.unackedSrc.slice(this.ackHead), ...this.pendingSrc];
        this.pendingBytes = this.pending.reduce((n, l) => n + l.message.length, 0);
        this.unacked = [];
        this.unackedSrc = [];
        this.ackHead = 0;
        this.flush();
      }, 1000).unref();
    });
    this.worker = w;
  }

  private source(service: string, instance: string): Source {
    const key = `${service}:${instance}`;
    let s = this.sources.get(key);
    if (!s) {
      if (this.sources.size >= MAX_RINGS) this.sources.delete(this.sources.keys().next().value!);
      this.sources.set(key, s = { service, instance, unwritten: 0, lost: 0 });
    }
    return s;
  }

  /** Add a line (seq assigned here): ring, followers, then the store. */
  append(line: Omit<LogLine, 'seq'>, src = this.source(line.service, line.instance)): void {
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
    this.pendingSrc.push(src);
    this.pendingBytes += l.message.length;
    src.unwritten++;
    if (this.pending.length >= FLUSH_LINES || this.pendingBytes >= BATCH_BYTES) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** New retention limits and ring size (a reload of [settings]): the writer applies the
   *  retention at once; rings keep at most `ringLines` from their next line on. */
  setLimits(limits: Pick<LogbookOptions, 'maxBytes' | 'maxAgeMs' | 'ringLines'>): void {
    const o = this.o;
    if (o.maxBytes === limits.maxBytes && o.maxAgeMs === limits.maxAgeMs && o.ringLines === limits.ringLines) return;
    this.o = { ...o, ...limits };
    for (const ring of this.rings.values()) ring.max = limits.ringLines;
    if (o.maxBytes !== limits.maxBytes || o.maxAgeMs !== limits.maxAgeMs) {
      this.worker?.postMessage({ type: 'limits', maxBytes: limits.maxBytes, maxAgeMs: limits.maxAgeMs } satisfies ToWriter);
    }
  }

  /** A LineSink for one stream of one process (LineSplitter's target). */
  sink(service: string, instance: string, stream: LogStream, pid: number | null): LineSink {
    const src = this.source(service, instance);
    return {
      line: (message, at) => this.append({ t: at, stream, service, instance, pid, message }, src),
      full: () => src.unwritten >= MAX_UNWRITTEN_PER_INSTANCE || this.backlog >= MAX_UNWRITTEN,
      dropped: (bytes) => {
        src.lost += bytes;
        this.losing.add(src);
        this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS); // the notice comes even if nothing else is logged
      },
    };
  }

  /** The writer stored every line up to `seq`. */
  private acknowledged(seq: number): void {
    while (this.ackHead < this.unacked.length && this.unacked[this.ackHead].seq <= seq) {
      this.unackedSrc[this.ackHead].unwritten--;
      this.ackHead++;
    }
    if (this.ackHead === this.unacked.length) {
      this.unacked = [];
      this.unackedSrc = [];
      this.ackHead = 0;
    } else if (this.ackHead > 4096 && this.ackHead * 2 > this.unacked.length) {
      this.unacked = this.unacked.slice(this.ackHead);
      this.unackedSrc = this.unackedSrc.slice(this.ackHead);
      this.ackHead = 0;
    }
  }

  /** A failure while capturing output (a bug): logged like a write failure, never thrown into
   *  the pipe's 'data' handler, where it would end ten serve. */
  captureFailed(err: unknown): void {
    this.writeFailed(`capturing output: ${(err as Error)?.stack ?? String(err)}`);
  }

  private writeFailed(message: string): void {
    this.errors.count++;
    if (Date.now() - this.errors.last < 60_000) return;
    this.o.log.error({ err: message, errors: this.errors.count }, 'log store write failed (logged once a minute at most)');
    this.errors = { last: Date.now(), count: 0 };
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const losing = [...this.losing];
    this.losing.clear(); // before the notices: append() may flush again
    for (const src of losing) {
      const bytes = src.lost;
      src.lost = 0;
      this.append({ t: Date.now(), stream: 'event', service: src.service, instance: src.instance, pid: null,
        message: `${bytes} bytes of output dropped: written faster than the log store keeps` }, src);
    }
    if (this.pending.length === 0 || !this.worker) return;
    const lines = this.pending;
    this.unacked.push(...lines);
    this.unackedSrc.push(...this.pendingSrc);
    this.pending = [];
    this.pendingSrc = [];
    this.pendingBytes = 0;
    this.worker.postMessage({ type: 'write', lines } satisfies ToWriter);
  }

  /** The latest `q.limit` lines matching `q`, oldest first: the ring when it alone can answer,
   *  else the store plus what memory holds that the store does not (yet, or any more: the ring
   *  of an instance keeps its latest lines even when retention dropped them from the store).
   *  TEN_ERR_LOGS_DAMAGED when logs.db is corrupt. */
  query(q: LogQuery): LogLine[] {
    const ring = q.instance !== undefined && q.service !== undefined ? this.rings.get(`${q.service}:${q.instance}`)?.lines() ?? [] : [];
    if (ring.length && !q.grep && q.since === undefined && q.until === undefined) {
      const fromRing = ring.filter((l) => matches(l, q));
      if (fromRing.length >= q.limit) return fromRing.slice(-q.limit);
    }
    let stored: LogLine[];
    try {
      stored = this.reader.query(q);
    } catch (err) {
      if (!damaged(err)) throw err;
      throw new TenementError('TEN_ERR_LOGS_DAMAGED', [this.reader.path, (err as Error).message], {}, err);
    }
    const have = new Set(stored.map((l) => l.seq));
    const fresh: LogLine[] = [];
    for (const from of [ring, this.unacked.slice(this.ackHead), this.pending]) {
      for (const l of from) if (!have.has(l.seq) && matches(l, q)) { have.add(l.seq); fresh.push(l); }
    }
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
  get backlog(): number { return this.pending.length + this.unacked.length - this.ackHead; }

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

/** SQLite said the file is not a database, or is corrupt. */
function damaged(err: unknown): boolean {
  const codes = [(err as { code?: string }).code, (err as { cause?: { code?: string } }).cause?.code];
  return codes.includes('SQLITE_NOTADB') || codes.includes('SQLITE_CORRUPT');
}

/** Open logs.db; a damaged one (not a database, corrupt) is moved aside as
 *  logs.db.damaged-<time> with a warning, and a new one is started: the logs are not worth
 *  keeping the apps from starting. */
function openLogStore(dataDir: string, log: Logger): { store: LogStore; seq: number } {
  let store: LogStore | undefined;
  try {
    store = new LogStore(dataDir);
    return { store, seq: store.lastSeq() };
  } catch (err) {
    store?.close();
    if (!damaged(err)) throw err;
    const path = join(dataDir, 'logs.db');
    const aside = `${path}.damaged-${new Date().toISOString().replaceAll(':', '-')}`;
    for (const ext of ['', '-wal', '-shm']) {
      try { renameSync(path + ext, aside + ext); } catch { /* not there */ }
    }
    log.warn({ err: (err as Error).message, moved_to: aside }, 'logs.db is damaged: moved aside, starting a new log store');
    const fresh = new LogStore(dataDir);
    return { store: fresh, seq: fresh.lastSeq() };
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
  /** `max` changes with log_ring_size on a reload. */
  constructor(public max: number, private readonly maxBytes: number) {}

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
