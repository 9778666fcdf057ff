// Persisted logs: every line of every instance (and the event stream) in {data_dir}/logs.db, a
// SQLite database of its own (a flood of output never contends with the desired state in
// tenement.db). Lines live in segments — a table and its full-text index (FTS5, trigram
// tokenizer: `grep` finds any substring of three characters or more, case-insensitively) — of
// about an eighth of `log_max_size` each. Retention drops whole segments, oldest first, when the
// database uses more than 90% of `log_max_size` or a segment's newest line is older than
// `log_max_age`: an O(1) DROP TABLE instead of deleting rows one by one from a full-text index
// (whose deleted entries would keep their pages until a merge).
//
// One writer (the log-writer worker thread) and any number of readers (the API, on the main
// thread), as SQLite's WAL mode allows.
import Database from 'better-sqlite3';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { TenementError } from './errors.ts';

/** Where a line came from: the app's stdout or stderr, or the event stream (hooks.event). */
export type LogStream = 'stdout' | 'stderr' | 'event';
export const LOG_STREAMS: readonly LogStream[] = ['stdout', 'stderr', 'event'];

/** One line, as stored and as the API returns it. */
export interface LogLine {
  /** Its place in the log: increases by one per line, across restarts of ten serve. */
  seq: number;
  /** When it was read, in ms since the epoch. */
  t: number;
  stream: LogStream;
  service: string;
  /** The instance id; '' for a service-wide event (a rollout step). */
  instance: string;
  /** The process that wrote it; null for events. */
  pid: number | null;
  message: string;
}

/** Which lines: every field narrows; at most `limit` lines, the latest ones, oldest first. */
export interface LogQuery {
  service?: string;
  instance?: string;
  stream?: LogStream;
  /** ms since the epoch, inclusive. */
  since?: number;
  /** ms since the epoch, exclusive. */
  until?: number;
  /** A substring, matched case-insensitively. */
  grep?: string;
  limit: number;
}

/** The trigram index matches substrings of 3 characters or more; shorter ones are scanned (LIKE). */
const TRIGRAM = 3;
/** Segments per log_max_size: the store holds between 7/8 and all of its budget (×0.9). */
const SEGMENTS = 8;

interface Segment { id: number; first_t: number | null; last_t: number | null }

export class LogStore {
  readonly path: string;
  private readonly db: Database.Database;
  /** Writer only: the segment being filled, and the bytes in use when it was started (less what
   *  drops of older segments freed since), so that used − base is its own size. */
  private current?: { seg: Segment; base: number; insert: Database.Statement; index: Database.Statement };
  /** Writer: the highest seq stored (read once, then kept). */
  private stored?: number;

  /** Opens (creating it, mode 0600) {dataDir}/logs.db. TEN_ERR_STORE_OPEN_FAILED when it cannot. */
  constructor(dataDir: string) {
    this.path = join(dataDir, 'logs.db');
    try {
      this.db = new Database(this.path);
      chmodSync(this.path, 0o600);
      this.db.pragma('busy_timeout = 2000');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL'); // logs: a power cut may lose the last instant, never corrupt
      this.db.pragma('journal_size_limit = 8388608'); // the WAL shrinks back to 8 MiB after a checkpoint
      this.db.exec('CREATE TABLE IF NOT EXISTS segments (id INTEGER PRIMARY KEY, first_t INTEGER, last_t INTEGER)');
    } catch (err) {
      throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [this.path, (err as Error).message], {}, err);
    }
  }

  /** The highest seq stored, 0 when empty: where numbering goes on after a restart. */
  lastSeq(): number {
    const seg = this.segments().at(-1);
    if (!seg) return 0;
    return (this.db.prepare(`SELECT max(seq) AS s FROM lines_${seg.id}`).get() as { s: number | null }).s ?? 0;
  }

  private segments(): Segment[] {
    return this.db.prepare('SELECT id, first_t, last_t FROM segments ORDER BY id').all() as Segment[];
  }

  /** Writer: store lines (in seq order) in one transaction; start a new segment when the current
   *  one has reached its share of `maxBytes`. */
  write(all: readonly LogLine[], maxBytes: number): void {
    // a line sent again (a restarted writer gets what it had not acknowledged) is stored once
    this.stored ??= this.lastSeq();
    const lines = all[0] && all[0].seq <= this.stored ? all.filter((l) => l.seq > this.stored!) : all;
    if (lines.length === 0) return;
    const cur = this.current && this.usedBytes() - this.current.base < maxBytes / SEGMENTS ? this.current : this.open();
    this.db.transaction(() => {
      for (const l of lines) {
        cur.insert.run(l.seq, l.t, l.stream, l.service, l.instance, l.pid, l.message);
        cur.index.run(l.seq, l.message);
      }
      cur.seg.first_t ??= lines[0].t;
      cur.seg.last_t = lines[lines.length - 1].t;
      this.db.prepare('UPDATE segments SET first_t = ?, last_t = ? WHERE id = ?').run(cur.seg.first_t, cur.seg.last_t, cur.seg.id);
    })();
    this.stored = lines[lines.length - 1].seq;
  }

  /** Writer: start a new segment. */
  private open(): NonNullable<LogStore['current']> {
    const id = ((this.db.prepare('SELECT max(id) AS id FROM segments').get() as { id: number | null }).id ?? 0) + 1;
    this.db.exec(`
      CREATE TABLE lines_${id} (seq INTEGER PRIMARY KEY, t INTEGER NOT NULL, stream TEXT NOT NULL,
        service TEXT NOT NULL, instance TEXT NOT NULL, pid INTEGER, message TEXT NOT NULL);
      CREATE INDEX lines_${id}_instance ON lines_${id} (service, instance, seq);
      CREATE INDEX lines_${id}_t ON lines_${id} (t);
      CREATE VIRTUAL TABLE fts_${id} USING fts5 (message, content = 'lines_${id}', content_rowid = 'seq', tokenize = 'trigram');
      INSERT INTO segments (id) VALUES (${id});`);
    this.current = {
      seg: { id, first_t: null, last_t: null },
      base: this.usedBytes(),
      insert: this.db.prepare(`INSERT INTO lines_${id} (seq, t, stream, service, instance, pid, message) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      index: this.db.prepare(`INSERT INTO fts_${id} (rowid, message) VALUES (?, ?)`),
    };
    return this.current;
  }

  /** The latest `q.limit` lines that match, oldest first (newest segments first, until enough). */
  query(q: LogQuery): LogLine[] {
    const out: LogLine[] = [];
    for (const seg of this.segments().reverse()) {
      if (out.length >= q.limit) break;
      if (q.since !== undefined && seg.last_t !== null && seg.last_t < q.since) break;
      if (q.until !== undefined && seg.first_t !== null && seg.first_t >= q.until) continue;
      try {
        out.push(...this.querySegment(seg.id, q, q.limit - out.length));
      } catch (err) {
        if (!/no such table/.test((err as Error).message)) throw err; // dropped by retention meanwhile
      }
    }
    return out.reverse();
  }

  /** Matching lines of one segment, newest first. */
  private querySegment(id: number, q: LogQuery, limit: number): LogLine[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const eq = (col: string, v: unknown) => { if (v !== undefined) { where.push(`l.${col} = ?`); args.push(v); } };
    eq('service', q.service);
    eq('instance', q.instance);
    eq('stream', q.stream);
    if (q.since !== undefined) { where.push('l.t >= ?'); args.push(q.since); }
    if (q.until !== undefined) { where.push('l.t < ?'); args.push(q.until); }
    let from = `lines_${id} l`;
    if (q.grep) {
      if ([...q.grep].length >= TRIGRAM) {
        from = `fts_${id} f JOIN lines_${id} l ON l.seq = f.rowid`;
        where.push(`fts_${id} MATCH ?`);
        args.push(`"${q.grep.replaceAll('"', '""')}"`); // one phrase: the text as written, no query syntax
      } else {
        where.push("l.message LIKE ? ESCAPE '\\'");
        args.push(`%${q.grep.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      }
    }
    return this.db.prepare(`SELECT l.seq, l.t, l.stream, l.service, l.instance, l.pid, l.message FROM ${from}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY l.seq DESC LIMIT ?`).all(...args, limit) as LogLine[];
  }

  /** Bytes of the database in use (pages not on the freelist): what retention bounds. */
  usedBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * (this.db.pragma('page_size', { simple: true }) as number);
  }

  /**
   * Writer: drop the oldest segments while the database uses more than 90% of `maxBytes` or
   * their newest line is older than `maxAgeMs` (the segment being filled is never dropped).
   * Returns the number of lines dropped.
   */
  retain(maxBytes: number, maxAgeMs: number, now = Date.now()): number {
    let dropped = 0;
    for (const seg of this.segments()) {
      if (seg.id === this.current?.seg.id) break;
      const old = seg.last_t === null || seg.last_t < now - maxAgeMs;
      const before = this.usedBytes();
      if (!old && before <= maxBytes * 0.9) break;
      dropped += (this.db.prepare(`SELECT count(*) AS n FROM lines_${seg.id}`).get() as { n: number }).n;
      this.db.transaction(() => {
        this.db.exec(`DROP TABLE fts_${seg.id}; DROP TABLE lines_${seg.id}; DELETE FROM segments WHERE id = ${seg.id}`);
      })();
      if (this.current) this.current.base -= before - this.usedBytes();
    }
    return dropped;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
