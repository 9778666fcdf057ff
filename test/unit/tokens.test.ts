// The pieces of access control that need no server (docs/access.md): the token file and table
// (core/auth.ts, core/tokens.ts) on a real SQLite file, the migration of an older tenement.db, the
// client address key and the failed-auth table (core/throttle.ts), api_listen parsing
// (core/api-listen.ts) and the exporter's tenant cut of /metrics.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { bearerToken, ensureToken, TOKEN_FILE, verifyBearer } from '../../core/auth.ts';
import { parseApiListen } from '../../core/api-listen.ts';
import { TenementError } from '../../core/errors.ts';
import { Store } from '../../core/store.ts';
import { AuthThrottle, clientKey } from '../../core/throttle.ts';
import { FILE_TOKEN_ID, sha256, Tokens } from '../../core/tokens.ts';
import { labelOf, metricsOf } from '../../plugins/prometheus-exporter/tenant.ts';

const dirs: string[] = [];
const stores: Store[] = [];
after(() => {
  for (const s of stores) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fresh() {
  const dataDir = mkdtempSync(join(tmpdir(), 'tenement-tokens-'));
  dirs.push(dataDir);
  const store = new Store(dataDir);
  stores.push(store);
  return { dataDir, store, tokens: new Tokens(store) };
}

describe('the token file', () => {
  test('ensureToken creates {data_dir}/api_token (0600, 64 hex digits); only its hash is stored', () => {
    const { dataDir, store, tokens } = fresh();
    const file = ensureToken(dataDir, tokens);
    assert.equal(file, join(dataDir, TOKEN_FILE));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const token = readFileSync(file, 'utf8').trim();
    assert.match(token, /^[0-9a-f]{64}$/, '32 random bytes as hex (never starts with -)');
    assert.deepEqual(tokens.verify(token), { token: FILE_TOKEN_ID, tenant: null });
    const rows = store.db.prepare('SELECT * FROM tokens').all() as Array<Record<string, unknown>>;
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(token), 'the plain token is never stored');
    assert.deepEqual(rows[0].hash, sha256(token));
  });

  test('ensureToken is idempotent, repairs a loose mode, and a new Tokens (a restart) knows the token', () => {
    const { dataDir, store, tokens } = fresh();
    const file = ensureToken(dataDir, tokens);
    const token = readFileSync(file, 'utf8');
    chmodSync(file, 0o644);
    assert.equal(ensureToken(dataDir, tokens), file);
    assert.equal(readFileSync(file, 'utf8'), token);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(new Tokens(store).verify(token.trim()));
  });

  test('verifyBearer accepts "Bearer <token>" and rejects everything else', () => {
    const { dataDir, tokens } = fresh();
    const token = readFileSync(ensureToken(dataDir, tokens), 'utf8').trim();
    assert.ok(verifyBearer(tokens, `Bearer ${token}`));
    assert.ok(verifyBearer(tokens, `bearer ${token}`), 'the scheme is case-insensitive (RFC 9110 §11.1)');
    for (const bad of [
      undefined, '', 'Bearer', 'Bearer ', token, `Basic ${token}`, `Bearer ${token}x`, `Bearer x${token}`,
      `Bearer ${token} extra`, `Bearer ${token.toUpperCase()}`, `Token ${token}`, `Bearer ${sha256(token).toString('hex')}`,
      `Bearer admin.${token}`, `Bearer ${'a'.repeat(10_000)}`,
    ]) assert.equal(verifyBearer(tokens, bad), undefined, `rejects ${JSON.stringify(bad)?.slice(0, 80)}`);
    assert.equal(bearerToken('Bearer abc.def'), 'abc.def');
  });
});

describe('made tokens', () => {
  test('create: <12 hex>.<64 hex>, admin or tenant; list never shows a secret or hash; revoke', () => {
    const { tokens } = fresh();
    const a = tokens.create('alice', 'alice\'s deploy bot', null);
    const admin = tokens.create(null, '', null);
    assert.match(a.token, /^[0-9a-f]{12}\.[0-9a-f]{64}$/);
    assert.equal(a.token.split('.')[0], a.info.id);
    assert.deepEqual(tokens.verify(a.token), { token: a.info.id, tenant: 'alice' });
    assert.deepEqual(tokens.verify(admin.token), { token: admin.info.id, tenant: null });
    const listed = JSON.stringify(tokens.list());
    for (const t of [a.token, admin.token]) {
      assert.ok(!listed.includes(t.split('.')[1]), 'no secret in the list');
      assert.ok(!listed.includes(sha256(t.split('.')[1]).toString('hex')), 'no hash in the list');
    }
    assert.equal(tokens.list().find((t) => t.id === a.info.id)?.last_used_at !== null, true, 'last use is kept');
    // a right id with a wrong secret, a wrong id with a right secret
    assert.equal(tokens.verify(`${a.info.id}.${'0'.repeat(64)}`), undefined);
    assert.equal(tokens.verify(`${admin.info.id}.${a.token.split('.')[1]}`), undefined);
    tokens.revoke(a.info.id);
    assert.equal(tokens.verify(a.token), undefined, 'revoked: refused');
    assert.throws(() => tokens.revoke(a.info.id), (e: TenementError) => e.code === 'TEN_ERR_TOKEN_NOT_FOUND');
    assert.throws(() => tokens.revoke(FILE_TOKEN_ID), (e: TenementError) => e.code === 'TEN_ERR_TOKEN_NOT_FOUND' || e.code === 'TEN_ERR_TOKEN_PROTECTED');
  });

  test('an expired token is refused; the file token cannot be revoked', () => {
    const { dataDir, tokens } = fresh();
    ensureToken(dataDir, tokens);
    const now = Date.now();
    const t = tokens.create('bob', '', now + 1000, now);
    assert.ok(tokens.verify(t.token, now + 999));
    assert.equal(tokens.verify(t.token, now + 1000), undefined);
    assert.throws(() => tokens.revoke(FILE_TOKEN_ID), (e: TenementError) => e.code === 'TEN_ERR_TOKEN_PROTECTED' && e.statusCode === 409);
  });

  test('tokens survive a restart (a new Store on the same data dir)', () => {
    const { dataDir, tokens } = fresh();
    const t = tokens.create('carol', 'ci', null);
    const again = new Store(dataDir);
    stores.push(again);
    assert.deepEqual(new Tokens(again).verify(t.token), { token: t.info.id, tenant: 'carol' });
  });

  test('migration: the tokens table of an older tenement.db becomes the new one; the old api_token keeps working', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tenement-tokens-old-'));
    dirs.push(dataDir);
    const old = new Database(join(dataDir, 'tenement.db'));
    const fileToken = 'ab'.repeat(32);
    old.exec('CREATE TABLE tokens (hash TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL)');
    old.prepare('INSERT INTO tokens VALUES (?, ?, ?)').run(sha256(fileToken).toString('hex'), 'admin', 1700000000000);
    old.close();
    const store = new Store(dataDir);
    stores.push(store);
    const tokens = new Tokens(store);
    assert.deepEqual(tokens.verify(fileToken), { token: FILE_TOKEN_ID, tenant: null }, 'the old file token is accepted before ensureToken runs');
    assert.deepEqual(tokens.list().map((t) => [t.id, t.tenant, t.created_at]), [[FILE_TOKEN_ID, null, 1700000000000]]);
    const cols = (store.db.prepare("SELECT name FROM pragma_table_info('tokens')").all() as Array<{ name: string }>).map((c) => c.name);
    assert.deepEqual(cols, ['id', 'hash', 'tenant', 'description', 'created_at', 'expires_at', 'last_used_at']);
  });
});

describe('failed-auth throttling', () => {
  test('clientKey: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64, a Unix socket peer as unix', () => {
    assert.equal(clientKey('127.0.0.2'), '127.0.0.2');
    assert.equal(clientKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
    assert.equal(clientKey('fe80::1%lo'), 'fe80:0:0:0::/64');
    assert.equal(clientKey(undefined), 'unix');
  });

  test('limit failures per window, then blocked until the window ends; per address; table bounded, oldest out', () => {
    const t = new AuthThrottle(3, 60_000, 2);
    const now = 1_000_000;
    assert.equal(t.fail('a', now), false);
    assert.equal(t.fail('a', now + 1), false);
    assert.equal(t.blocked('a', now + 2), 0);
    assert.equal(t.fail('a', now + 2), true, 'the failure that reaches the limit is reported once');
    assert.equal(t.blocked('a', now + 3), 60, 'Retry-After: the rest of the window, in whole seconds');
    assert.equal(t.blocked('b', now + 3), 0, 'another address is not affected');
    assert.equal(t.blocked('a', now + 60_000), 0, 'free again once the window is over');
    t.fail('a', now); t.fail('a', now); t.fail('a', now);
    t.fail('b', now);
    t.fail('c', now); // the table holds 2: a, the oldest, goes
    assert.equal(t.size, 2);
    assert.equal(t.blocked('a', now + 1), 0);
  });
});

describe('api_listen', () => {
  test('loopback TCP and Unix sockets are accepted; anything else is refused with a reason', () => {
    assert.deepEqual(parseApiListen('127.0.0.1:9091', '/etc/ten'), { host: '127.0.0.1', port: 9091 });
    assert.deepEqual(parseApiListen('127.1.2.3:1', '/etc/ten'), { host: '127.1.2.3', port: 1 });
    assert.deepEqual(parseApiListen('[::1]:9091', '/etc/ten'), { host: '::1', port: 9091 });
    assert.deepEqual(parseApiListen('unix:/run/ten.sock', '/etc/ten'), { path: '/run/ten.sock' });
    assert.deepEqual(parseApiListen('unix:ten.sock', '/etc/ten'), { path: '/etc/ten/ten.sock' });
    for (const [bad, why] of [
      ['0.0.0.0:9091', /not a loopback address/], ['10.0.0.1:9091', /not a loopback address/], ['[::]:9091', /not a loopback/],
      ['[2001:db8::1]:80', /not a loopback/], ['localhost:9091', /not an address/], ['127.0.0.1', /not an address/],
      ['127.0.0.1:0', /port 0/], ['127.0.0.1:70000', /port 70000/], ['unix:', /no socket path/], [`unix:/${'x'.repeat(120)}`, /longer than 107 bytes/],
    ] as const) {
      const r = parseApiListen(bad, '/etc/ten');
      assert.equal(typeof r, 'string', bad);
      assert.match(r as string, why, bad);
    }
  });
});

describe('the exporter for a tenant', () => {
  const text = [
    '# HELP tenement_instance_weight The weight', '# TYPE tenement_instance_weight gauge',
    'tenement_instance_weight{service="web",instance="alice"} 100', 'tenement_instance_weight{service="web",instance="bob"} 50',
    '# HELP tenement_rollout_step Step', '# TYPE tenement_rollout_step gauge', 'tenement_rollout_step{service="web"} 0',
    '# HELP process_cpu_seconds_total CPU', '# TYPE process_cpu_seconds_total counter', 'process_cpu_seconds_total 1.5',
    '# HELP tenement_http_requests_total Requests', '# TYPE tenement_http_requests_total counter',
    'tenement_http_requests_total{service="api",instance="alice",code="200"} 7', 'tenement_http_requests_total{service="api",instance="alicex",code="200"} 1',
    '',
  ].join('\n');

  test('keeps only the samples of its instances, with their HELP and TYPE lines', () => {
    assert.equal(metricsOf(text, 'alice'), [
      '# HELP tenement_instance_weight The weight', '# TYPE tenement_instance_weight gauge', 'tenement_instance_weight{service="web",instance="alice"} 100',
      '# HELP tenement_http_requests_total Requests', '# TYPE tenement_http_requests_total counter',
      'tenement_http_requests_total{service="api",instance="alice",code="200"} 7', '',
    ].join('\n'));
    assert.equal(metricsOf(text, 'nobody'), '');
  });

  test('labelOf reads escaped label values', () => {
    assert.equal(labelOf('m{a="x\\",instance=\\"bob",instance="alice"} 1', 'instance'), 'alice');
    assert.equal(labelOf('m{a="1"} 1', 'instance'), undefined);
    assert.equal(labelOf('m 1', 'instance'), undefined);
  });
});
