// One `ten serve` per data_dir. The lock is SQLite's own exclusive lock (an fcntl(2) record lock)
// on {data_dir}/serve.lock, taken by an EXCLUSIVE transaction that stays open for the life of the
// process: the kernel drops it when the process ends, however it ends (kill -9 included), so a
// crash never leaves a stale lock behind. {data_dir}/serve.pid names the holder for the error.
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TenementError } from './errors.ts';

export const LOCK_FILE = 'serve.lock';
export const PID_FILE = 'serve.pid';

/** A held data_dir lock. */
export interface DataDirLock {
  /** Give the lock up (on shutdown); the process ending does the same. */
  release(): void;
}

/**
 * Take the data_dir's lock, or fail at once: TEN_ERR_SERVE_DATA_DIR_LOCKED naming the pid that
 * holds it (from serve.pid), TEN_ERR_STORE_OPEN_FAILED when the lock file cannot be opened.
 * Record locks are per process (fcntl(2)): a second lock taken in the same process succeeds.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const file = join(dataDir, LOCK_FILE);
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: 0 });
  } catch (err) {
    throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [file, (err as Error).message], {}, err);
  }
  try {
    db.pragma('journal_mode = DELETE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER); BEGIN EXCLUSIVE; DELETE FROM holder');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [file, (err as Error).message], {}, err);
    throw new TenementError('TEN_ERR_SERVE_DATA_DIR_LOCKED', [dataDir, holder(dataDir)]);
  }
  writeFileSync(join(dataDir, PID_FILE), `${process.pid}\n`, { mode: 0o644 });
  return {
    release() {
      if (!db.open) return;
      try { db.exec('ROLLBACK'); } catch { /* closing releases it anyway */ }
      db.close();
    },
  };
}

/** "pid N" from serve.pid, or a phrase saying it is not known. */
function holder(dataDir: string): string {
  try {
    const pid = Number(readFileSync(join(dataDir, PID_FILE), 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0) return `pid ${pid}`;
  } catch { /* not written yet */ }
  return 'a process whose pid is not known';
}
