// API tokens (docs/access.md): the admin token of {data_dir}/api_token and the tokens `ten token
// create` makes, admin or scoped to one tenant. A made token is `<id>.<secret>`: 12 hex digits
// that name it (in `ten token list`, `ten token revoke ID`), a dot, 64 hex digits of secret (256
// bits from crypto.randomBytes). Only SHA-256 hashes are stored (the secret is random, so a fast
// hash is enough: there is nothing to guess); a token is found by its id, then its hash compared
// with crypto.timingSafeEqual. The file token has no dot: it is compared the same way with the
// hash kept under the id `admin`. Rows live in the `tokens` table of tenement.db, mirrored in
// memory (ten serve is the only writer), so a check reads no disk; `last_used_at` is written at
// most once a minute per token, never per request.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { TenementError } from './errors.ts';
import type { Store } from './store.ts';

/** The id of the token kept in {data_dir}/api_token. */
export const FILE_TOKEN_ID = 'admin';
/** Tokens kept at most, the file token included (TEN_ERR_TOKEN_TOO_MANY beyond). */
export const MAX_TOKENS = 1000;
/** ms between two writes of one token's last_used_at. */
const TOUCH_MS = 60_000;
const ID = /^[0-9a-f]{12}$/;
const SECRET = /^[0-9a-f]{64}$/;

/** Who a request is: the token's id and its tenant (null: an admin token). */
export interface Access {
  token: string;
  tenant: string | null;
}

/** A token as `ten token list` shows it: never its secret or hash. Times are ms since the epoch. */
export interface TokenInfo {
  id: string;
  /** null: an admin token. */
  tenant: string | null;
  description: string;
  created_at: number;
  /** null: it never expires. */
  expires_at: number | null;
  last_used_at: number | null;
}

interface Row extends TokenInfo { hash: Buffer }

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Create the `tokens` table, or migrate the one of an older tenement.db — `(hash, name,
 * created_at)`, where only the file token (`name = 'admin'`) was ever kept — into it: every old row
 * becomes an admin token (the file token keeps the id `admin`; the next ensureToken() replaces its
 * hash anyway).
 */
export function migrateTokens(store: Store): void {
  const db = store.db;
  const cols = (db.prepare("SELECT name FROM pragma_table_info('tokens')").all() as Array<{ name: string }>).map((c) => c.name);
  const create = `CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, hash BLOB NOT NULL, tenant TEXT, description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL, expires_at INTEGER, last_used_at INTEGER)`;
  if (cols.length === 0 || cols.includes('id')) return void db.exec(create);
  db.transaction(() => {
    const old = db.prepare('SELECT hash, name, created_at FROM tokens').all() as Array<{ hash: string; name: string; created_at: number }>;
    db.exec(`DROP TABLE tokens; ${create}`);
    const put = db.prepare('INSERT OR IGNORE INTO tokens (id, hash, tenant, description, created_at) VALUES (?, ?, NULL, ?, ?)');
    for (const r of old) {
      const id = r.name === FILE_TOKEN_ID ? FILE_TOKEN_ID : r.hash.slice(0, 12);
      put.run(id, Buffer.from(r.hash, 'hex'), r.name === FILE_TOKEN_ID ? '' : `migrated: ${r.name}`, r.created_at);
    }
  })();
}

export class Tokens {
  private readonly rows = new Map<string, Row>();
  /** Last use of each token not written yet (id → ms). */
  private readonly used = new Map<string, number>();

  constructor(private readonly store: Store) {
    migrateTokens(store);
    for (const r of store.db.prepare('SELECT * FROM tokens').all() as Row[]) this.rows.set(r.id, r);
  }

  /** Make `secret` the file token (its hash under the id `admin`): an edited api_token revokes the old one. */
  setFileToken(secret: string): void {
    const row: Row = { id: FILE_TOKEN_ID, hash: sha256(secret), tenant: null, description: '{data_dir}/api_token', created_at: Date.now(), expires_at: null, last_used_at: null };
    const old = this.rows.get(FILE_TOKEN_ID);
    if (old && timingSafeEqual(old.hash, row.hash)) return;
    this.store.db.prepare('INSERT OR REPLACE INTO tokens (id, hash, tenant, description, created_at) VALUES (?, ?, NULL, ?, ?)')
      .run(row.id, row.hash, row.description, row.created_at);
    this.rows.set(row.id, row);
  }

  /**
   * A new token: `tenant` null for an admin token, `expiresAt` ms since the epoch or null.
   * Returns the token text (shown once) and its info. TEN_ERR_TOKEN_TOO_MANY at MAX_TOKENS.
   */
  create(tenant: string | null, description: string, expiresAt: number | null, now = Date.now()): { token: string; info: TokenInfo } {
    if (this.rows.size >= MAX_TOKENS) throw new TenementError('TEN_ERR_TOKEN_TOO_MANY', [MAX_TOKENS]);
    let id: string;
    do id = randomBytes(6).toString('hex'); while (this.rows.has(id));
    const secret = randomBytes(32).toString('hex');
    const row: Row = { id, hash: sha256(secret), tenant, description, created_at: now, expires_at: expiresAt, last_used_at: null };
    this.store.db.prepare('INSERT INTO tokens (id, hash, tenant, description, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, row.hash, tenant, description, now, expiresAt);
    this.rows.set(id, row);
    return { token: `${id}.${secret}`, info: info(row) };
  }

  /** Every token, oldest first, with its latest use. */
  list(): TokenInfo[] {
    return [...this.rows.values()].map((r) => ({ ...info(r), last_used_at: this.used.get(r.id) ?? r.last_used_at }))
      .sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id));
  }

  /** Delete token `id` (it fails as 401 from now on). TEN_ERR_TOKEN_NOT_FOUND, TEN_ERR_TOKEN_PROTECTED for the file token. */
  revoke(id: string): TokenInfo {
    const row = this.rows.get(id);
    if (!row) throw new TenementError('TEN_ERR_TOKEN_NOT_FOUND', [id]);
    if (id === FILE_TOKEN_ID) throw new TenementError('TEN_ERR_TOKEN_PROTECTED');
    this.store.db.prepare('DELETE FROM tokens WHERE id = ?').run(id);
    this.rows.delete(id);
    this.used.delete(id);
    return info(row);
  }

  /** Who `token` is, or undefined for an unknown, malformed, revoked or expired one. Constant
   *  time in the secret: the id only picks the row whose hash is compared. */
  verify(token: string, now = Date.now()): Access | undefined {
    const dot = token.indexOf('.');
    const id = dot < 0 ? FILE_TOKEN_ID : token.slice(0, dot);
    const secret = dot < 0 ? token : token.slice(dot + 1);
    if ((dot >= 0 && !ID.test(id)) || secret.length > 256) return undefined;
    const row = this.rows.get(id);
    // an unknown id still costs a hash and a comparison: timing says nothing about which ids exist
    const ok = timingSafeEqual(row?.hash ?? DUMMY, sha256(secret)) && row !== undefined && (dot < 0 || SECRET.test(secret));
    if (!ok || (row.expires_at !== null && row.expires_at <= now)) return undefined;
    this.touch(row, now);
    return { token: row.id, tenant: row.tenant };
  }

  private touch(row: Row, now: number): void {
    this.used.set(row.id, now);
    if (row.last_used_at !== null && now - row.last_used_at < TOUCH_MS) return;
    row.last_used_at = now;
    this.store.db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(now, row.id);
  }
}

const DUMMY = sha256('');

function info(r: Row): TokenInfo {
  return { id: r.id, tenant: r.tenant, description: r.description, created_at: r.created_at, expires_at: r.expires_at, last_used_at: r.last_used_at };
}
