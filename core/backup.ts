// `ten backup` and `ten restore`: one SQLite file holding the desired state (tenement.db: instances,
// weights, tokens) and every plugin's tables (deploy history, rollouts…), made with SQLite's online
// backup API, so it is consistent while ten serve keeps writing (sqlite.org/backup.html).
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TenementError } from './errors.ts';
import { lockDataDir } from './lock.ts';

const STORE = 'tenement.db';

/** What a backup holds, for the CLI's report. */
export interface BackupSummary {
  path: string;
  /** Bytes of the backup file. */
  bytes: number;
  instances: number;
  tokens: number;
  /** Tables copied in from plugins' own stores ({data_dir}/plugins/*.db). */
  pluginTables: string[];
}

/**
 * Copy {dataDir}/tenement.db and the plugins' stores into one new file `dest` (refused when it
 * exists: TEN_ERR_CLI_INVALID_ARGUMENT). Plugins' tables are copied in under their own names,
 * `<plugin with - as _>_*`, as they were kept before plugins had files of their own, so a restore
 * puts them back where they belong. TEN_ERR_STORE_OPEN_FAILED when there is no store to copy.
 */
export async function backupDataDir(dataDir: string, dest: string): Promise<BackupSummary> {
  const src = join(dataDir, STORE);
  if (existsSync(dest)) throw new TenementError('TEN_ERR_CLI_INVALID_ARGUMENT', [`${dest} exists: give a new file name (a backup never overwrites)`]);
  if (!statSync(dirname(dest), { throwIfNoEntry: false })?.isDirectory()) throw new TenementError('TEN_ERR_CLI_INVALID_ARGUMENT', [`${dirname(dest)} is not a folder: make it first, or give a path in an existing one`]);
  let db: Database.Database;
  try {
    db = new Database(src, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [src, (err as Error).message], {}, err);
  }
  try {
    await db.backup(dest);
  } finally {
    db.close();
  }
  const copy = new Database(dest);
  const pluginTables: string[] = [];
  try {
    for (const file of pluginFiles(dataDir)) {
      copy.prepare('ATTACH DATABASE ? AS plugin').run(file);
      try {
        const tables = copy.prepare("SELECT name, sql FROM plugin.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string; sql: string }>;
        copy.transaction(() => {
          for (const t of tables) {
            copy.exec(`DROP TABLE IF EXISTS main."${t.name}"`);
            copy.exec(t.sql);
            copy.exec(`INSERT INTO main."${t.name}" SELECT * FROM plugin."${t.name}"`);
            pluginTables.push(t.name);
          }
        })();
      } finally {
        copy.exec('DETACH DATABASE plugin');
      }
    }
    copy.pragma('journal_mode = DELETE'); // one self-contained file
    return { path: dest, bytes: 0, ...counts(copy), pluginTables };
  } finally {
    copy.close();
  }
}

/** A finished backup's summary with its size. */
export function withSize(s: BackupSummary): BackupSummary {
  return { ...s, bytes: statSync(s.path).size };
}

/**
 * Put a backup back into `dataDir`, with ten serve stopped (its lock is taken here:
 * TEN_ERR_SERVE_DATA_DIR_LOCKED while one runs). The backup is checked first (SQLite
 * integrity_check, an instances table): TEN_ERR_STORE_BACKUP_INVALID otherwise, and nothing is touched.
 * The current tenement.db and plugin stores are kept beside, renamed `*.before-restore-<ms>`;
 * plugins' tables move back into their own files when ten serve next opens them.
 */
export function restoreDataDir(dataDir: string, backup: string): BackupSummary & { keptAside: string[] } {
  const lock = lockDataDir(dataDir);
  try {
    let summary: BackupSummary;
    try {
      const db = new Database(backup, { readonly: true, fileMustExist: true });
      try {
        const check = String(db.pragma('integrity_check', { simple: true }));
        if (check !== 'ok') throw new Error(`failed SQLite's integrity_check: ${check}`);
        summary = { path: backup, bytes: statSync(backup).size, ...counts(db), pluginTables: [] };
      } finally {
        db.close();
      }
    } catch (err) {
      if (err instanceof TenementError) throw err;
      const msg = (err as Error).message;
      const why = !existsSync(backup) ? 'does not exist' : /not a database/i.test(msg) ? 'is not a database' : msg;
      throw new TenementError('TEN_ERR_STORE_BACKUP_INVALID', [backup, why], {}, err);
    }
    const stamp = `before-restore-${Date.now()}`;
    const keptAside: string[] = [];
    const aside = (file: string) => {
      if (!existsSync(file)) return;
      renameSync(file, `${file}.${stamp}`);
      keptAside.push(`${file}.${stamp}`);
    };
    aside(join(dataDir, STORE));
    for (const f of ['-wal', '-shm']) rmSync(join(dataDir, STORE + f), { force: true }); // belong to the old file
    for (const file of pluginFiles(dataDir)) {
      aside(file);
      for (const f of ['-wal', '-shm']) rmSync(file + f, { force: true });
    }
    copyFileSync(backup, join(dataDir, STORE));
    return { ...summary, keptAside };
  } finally {
    lock.release();
  }
}

/** Instances and tokens in an open store (0 for a table it lacks). */
function counts(db: Database.Database): { instances: number; tokens: number } {
  const count = (table: string) => {
    try { return (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n; } catch { return 0; }
  };
  const instances = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'instances'").get();
  if (!instances) throw new Error('has no instances table: not a tenement store');
  return { instances: count('instances'), tokens: count('tokens') };
}

/** The plugin store files, {data_dir}/plugins/<name>.db. */
function pluginFiles(dataDir: string): string[] {
  const dir = join(dataDir, 'plugins');
  try { return readdirSync(dir).filter((f) => f.endsWith('.db')).map((f) => join(dir, f)); } catch { return []; }
}
