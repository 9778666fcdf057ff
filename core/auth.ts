// The admin token file: generated on the first `ten serve` into {data_dir}/api_token (mode 0600);
// only its SHA-256 hash is kept in the store (core/tokens.ts, under the id `admin`).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Access, Tokens } from './tokens.ts';

export const TOKEN_FILE = 'api_token';

/** Make sure {dataDir}/api_token exists and its hash is the file token's; returns the file's path. */
export function ensureToken(dataDir: string, tokens: Tokens): string {
  const file = join(dataDir, TOKEN_FILE);
  if (!existsSync(file)) {
    // hex: a token never starts with '-', so `--token TOKEN` is never read as an option
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  tokens.setFileToken(readFileSync(file, 'utf8').trim());
  return file;
}

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header ?? '');
  return m?.[1];
}

/** Who the `Authorization` header says the request is, or undefined (no, unknown, revoked or
 *  expired token). */
export function verifyBearer(tokens: Tokens, header: string | undefined): Access | undefined {
  const t = bearerToken(header);
  return t === undefined ? undefined : tokens.verify(t);
}
