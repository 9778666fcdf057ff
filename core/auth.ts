// The admin API token: generated on the first `ten serve` into {data_dir}/api_token (mode 0600);
// only its SHA-256 hash is kept in the store.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from './store.ts';

export const TOKEN_FILE = 'api_token';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Make sure {dataDir}/api_token exists and its hash is known to the store; returns the file's path. */
export function ensureToken(dataDir: string, store: Store): string {
  const file = join(dataDir, TOKEN_FILE);
  if (!existsSync(file)) {
    // hex: a token never starts with '-', so `--token TOKEN` is never read as an option
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  store.replaceToken('admin', hashToken(readFileSync(file, 'utf8').trim()));
  return file;
}

/** true when the Authorization header carries a known bearer token. */
export function verifyBearer(store: Store, header: string | undefined): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && store.hasToken(hashToken(m[1]));
}
