// The embedded store: desired state (instances, weights) and API token hashes (core/tokens.ts owns
// the `tokens` table), in SQLite.
// Written on state changes only (spawn, stop, weight), never per request.
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TenementError } from './errors.ts';
import type { PluginStore } from './plugin.ts';

export interface StoredInstance { service: string; id: string; weight: number; created_at: number }

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instances (
  service TEXT NOT NULL, id TEXT NOT NULL, weight INTEGER NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (service, id));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export class Store {
  readonly db: Database.Database;
  readonly path: string;
  /** Plugins' own databases, by plugin name. */
  private readonly plugins = new Map<string, Database.Database>();

  constructor(dataDir: string) {
    this.path = join(dataDir, 'tenement.db');
    try {
      mkdirSync(dataDir, { recursive: true });
      this.db = new Database(this.path);
      chmodSync(this.path, 0o600); // before the WAL and shm files exist: SQLite gives them the db's mode
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 2000');
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [this.path, (err as Error).message], {}, err);
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
