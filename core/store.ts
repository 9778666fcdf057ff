// The embedded store: desired state (instances, weights) and API token hashes (core/tokens.ts owns
// the `tokens` table), in SQLite.
// Written on state changes only (spawn, stop, weight), never per request.
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TenementError } from './errors.ts';
import type { PluginStore } from './plugin.ts';

export interface StoredInstance { service: string; id: string; weight: number; created_at: number }

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instances (
  service TEXT NOT NULL, id TEXT NOT NULL, weight INTEGER NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (service, id));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  service TEXT NOT NULL, id TEXT NOT NULL, pid INTEGER NOT NULL, start_ticks TEXT NOT NULL,
  app_pid INTEGER, port INTEGER NOT NULL, socket TEXT, listen TEXT NOT NULL, started_at INTEGER NOT NULL,
  config TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (service, id));
`;

/** A process of an instance as a ten serve left it: what a restarted one adopts (adopt.ts). */
export interface StoredRun {
  service: string; id: string;
  /** The process ten serve spawned, and its start time (/proc/<pid>/stat field 22). */
  pid: number; start_ticks: string;
  /** The app's main process on this host. */
  app_pid: number | null;
  port: number; socket: string | null;
  /** tenement-init's socket for a later ten serve. */
  listen: string;
  started_at: number;
  /** The service's start fingerprint when it was started (config-diff.ts startFingerprint). */
  config: string;
}

export class Store {
  readonly db: Database.Database;
  readonly path: string;
  /** Plugins' own databases, by plugin name. */
  private readonly plugins = new Map<string, Database.Database>();

  /**
   * Open (or create) {dataDir}/tenement.db. TEN_ERR_STORE_DAMAGED when the file is missing, empty,
   * not a database or fails SQLite's quick_check while the data dir shows earlier use (storeDamage),
   * TEN_ERR_STORE_OPEN_FAILED when it cannot be opened at all.
   */
  constructor(dataDir: string) {
    this.path = join(dataDir, 'tenement.db');
    const used = earlierUse(dataDir);
    let size: number | undefined;
    try {
      size = statSync(this.path, { throwIfNoEntry: false })?.size;
    } catch (err) {
      throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [this.path, (err as Error).message], {}, err);
    }
    if (used && !size) throw new TenementError('TEN_ERR_STORE_DAMAGED', [this.path, size === 0 ? 'is empty (0 bytes)' : 'is missing', used]);
    try {
      mkdirSync(dataDir, { recursive: true });
      this.db = new Database(this.path);
    } catch (err) {
      throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [this.path, (err as Error).message], {}, err);
    }
    try {
      const check = used ? String(this.db.pragma('quick_check', { simple: true })) : 'ok';
      if (check !== 'ok') throw new Error(`failed SQLite's quick_check: ${check}`);
      chmodSync(this.path, 0o600); // before the WAL and shm files exist: SQLite gives them the db's mode
      this.db.pragma('journal_mode = WAL');
      // WAL with NORMAL may lose the last commits on a power cut; FULL syncs the WAL at each
      // commit, so a change the API acknowledged survives one (sqlite.org/pragma.html#pragma_synchronous)
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 2000');
      if (used && !this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'instances'").get()) throw new Error('has no instances table');
      this.db.exec(SCHEMA);
      // runs of a store made before the fingerprint: '' never matches one, so such an app is
      // adopted, then restarted once
      const cols = this.db.prepare("SELECT name FROM pragma_table_info('runs')").all() as Array<{ name: string }>;
      if (!cols.some((c) => c.name === 'config')) this.db.exec("ALTER TABLE runs ADD COLUMN config TEXT NOT NULL DEFAULT ''");
    } catch (err) {
      this.db.close();
      const msg = (err as Error).message;
      if (used) throw new TenementError('TEN_ERR_STORE_DAMAGED', [this.path, /not a database/i.test(msg) ? 'is not a database' : msg, used], {}, err);
      throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [this.path, msg], {}, err);
    }
  }

  listInstances(): StoredInstance[] {
    return this.db.prepare('SELECT service, id, weight, created_at FROM instances ORDER BY created_at, service, id').all() as StoredInstance[];
  }

  putInstance(service: string, id: string, weight: number): void {
    this.db.prepare(`INSERT INTO instances (service, id, weight, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (service, id) DO UPDATE SET weight = excluded.weight`).run(service, id, weight, Date.now());
  }

  /** Several weights in one transaction. */
  putWeights(rows: ReadonlyArray<readonly [string, string, number]>): void {
    const stmt = this.db.prepare(`INSERT INTO instances (service, id, weight, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (service, id) DO UPDATE SET weight = excluded.weight`);
    this.db.transaction(() => { for (const [s, id, w] of rows) stmt.run(s, id, w, Date.now()); })();
  }

  deleteInstance(service: string, id: string): void {
    this.db.prepare('DELETE FROM instances WHERE service = ? AND id = ?').run(service, id);
  }

  /** Record an instance's process (written once per start, not per request). */
  putRun(r: StoredRun): void {
    this.db.prepare(`INSERT OR REPLACE INTO runs (service, id, pid, start_ticks, app_pid, port, socket, listen, started_at, config)
      VALUES (@service, @id, @pid, @start_ticks, @app_pid, @port, @socket, @listen, @started_at, @config)`).run(r);
  }

  /** Forget an instance's process: it ended, or was not adopted. Only the row of that pid, so a
   *  late exit of an old process never removes its successor's row. */
  deleteRun(service: string, id: string, pid: number): void {
    this.db.prepare('DELETE FROM runs WHERE service = ? AND id = ? AND pid = ?').run(service, id, pid);
  }

  listRuns(): StoredRun[] {
    return this.db.prepare('SELECT * FROM runs ORDER BY started_at').all() as StoredRun[];
  }

  /** Plugin `name`'s own database, {data_dir}/plugins/<name>.db (0600), opened on first use. Tables
   *  named `<name with - as _>_*` that a plugin kept in tenement.db before it had its own file are
   *  moved into it the first time. */
  pluginStore(name: string): PluginStore {
    let db = this.plugins.get(name);
    if (!db) {
      const dir = join(this.path, '..', 'plugins');
      const file = join(dir, `${name}.db`);
      const fresh = !existsSync(file);
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        db = new Database(file);
        chmodSync(file, 0o600);
        db.pragma('journal_mode = WAL');
        db.pragma('busy_timeout = 2000');
      } catch (err) {
        throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [file, (err as Error).message], {}, err);
      }
      if (fresh) this.moveTables(`${name.replaceAll('-', '_')}_`, db, file);
      this.plugins.set(name, db);
    }
    const own = db;
    return {
      prepare: (sql: string) => own.prepare(sql),
      exec: (sql: string) => { own.exec(sql); },
      transaction: (fn) => own.transaction(fn),
    } as PluginStore;
  }

  /** Move the tables called `<prefix>*` from tenement.db into `target` (the file at `file`). */
  private moveTables(prefix: string, target: Database.Database, file: string): void {
    const tables = this.db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?")
      .all(prefix.length, prefix) as Array<{ name: string; sql: string }>;
    if (tables.length === 0) return;
    for (const t of tables) target.exec(t.sql);
    this.db.prepare('ATTACH DATABASE ? AS plugin').run(file);
    try {
      this.db.transaction(() => {
        for (const t of tables) {
          this.db.exec(`INSERT INTO plugin."${t.name}" SELECT * FROM main."${t.name}"; DROP TABLE main."${t.name}"`);
        }
      })();
    } finally {
      this.db.exec('DETACH DATABASE plugin');
    }
  }

  close(): void {
    for (const db of this.plugins.values()) if (db.open) db.close();
    this.plugins.clear();
    if (this.db.open) this.db.close();
  }
}

/** What shows that `dataDir` has been used by a ten serve before (its token file, written just
 *  after the store at the first start; a plugin's store), in words; undefined for a new one. */
export function earlierUse(dataDir: string): string | undefined {
  const signs = ['api_token', 'plugins'].filter((f) => existsSync(join(dataDir, f)));
  return signs.length > 0 ? `it has ${signs.join(', ')}` : undefined;
}

