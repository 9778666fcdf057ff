// spawn_on_request against anonymous clients (issue 11): a real ten serve, real app processes,
// real sockets from several loopback source addresses (127.0.0.x) and, through a trusted proxy,
// X-Forwarded-For. What it shows: 50 ids from one address create spawn_rate instances and the rest
// get 429 with Retry-After; they expire and are gone from `ten ps` and both stores, also across a
// restart of ten serve (the mark and the idle clock are stored); a legitimate client is served
// afterwards; ids outside spawn_ids are 404; the address table stays within max_clients; asleep
// instances never block a new id (max_instances counts live ones, the least recently active is
// put to sleep to make room). docs/plugins/idle-scaler.md#creating-instances-on-request.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { cleanup, fixtureService, request, sleep, startTen, waitFor, type Reply, type Ten } from './harness.ts';

after(cleanup);

/** The fixture app as a spawn_on_request service `dyn`, with `extra` keys (and `scaler` options). */
const dyn = (extra: string, scaler = '') => `[settings]\ntrusted_proxies = ["127.0.0.1"]\n[plugins.scaler]\nuse = "idle-scaler"\ncheck_interval = 0.2\n${scaler}\n${
  fixtureService('dyn', `spawn_on_request = true\n${extra}`)}`;

/** GET `host` from the local address `from` (a fresh connection), with `headers`. */
const get = (ten: Ten, host: string, from = '127.0.0.1', headers: http.OutgoingHttpHeaders = {}): Promise<Reply> =>
  request(ten.port, host, '/', { localAddress: from, headers, timeoutMs: 20_000 });

/** The instances of `dyn` as `ten ps --json` lists them. */
async function ps(ten: Ten): Promise<Array<{ id: string; state: string }>> {
  const r = await ten.cli('ps', '--json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout).instances as Array<{ service: string; id: string; state: string }>).filter((i) => i.service === 'dyn');
}

/** Ids of `dyn` in the core store (tenement.db) and in the scaler's ledger (plugins/idle-scaler.db). */
function stored(ten: Ten): { instances: string[]; marks: string[] } {
  const read = (file: string, sql: string) => {
    if (!existsSync(file)) return [];
    const db = new Database(file, { readonly: true });
    try {
      return (db.prepare(sql).all() as Array<{ id: string }>).map((r) => r.id).sort();
    } finally {
      db.close();
    }
  };
  return {
    instances: read(join(ten.dir, 'data', 'tenement.db'), "SELECT id FROM instances WHERE service = 'dyn'"),
    marks: read(join(ten.dir, 'data', 'plugins', 'idle-scaler.db'), "SELECT id FROM spawned WHERE service = 'dyn'"),
  };
}

/** The `instance expired` log lines ten serve printed, as parsed JSON. */
function expiries(out: string): Array<{ instance: string; idle_seconds: number; data: string }> {
  return out.split('\n').filter((l) => l.includes('"msg":"instance expired (spawn_expire_after)"')).map((l) => JSON.parse(l));
}

describe('spawn_on_request against anonymous clients', { timeout: 300_000 }, () => {
  test('50 ids from one address: spawn_rate created, 45 × 429; expired, gone from ten ps and the stores; a legitimate id is served; spawn_ids 404s', async () => {
    const ten = await startTen(dyn('spawn_rate = 5\nspawn_rate_window = 600\nspawn_expire_after = 5\nspawn_ids = "[a-z]+[0-9]*"\nmax_instances = 50'));
    const ids = Array.from({ length: 50 }, (_, i) => `evil${i + 1}`);
    const replies = await Promise.all(ids.map((id) => get(ten, `${id}.dyn.localhost`)));
    const served = ids.filter((_, i) => replies[i].status === 200);
    const limited = replies.filter((r) => r.status === 429);
    console.log(`50 anonymous ids: ${served.length} created (${served.join(', ')}), ${limited.length} × 429, others: ${replies.filter((r) => r.status !== 200 && r.status !== 429).map((r) => r.status).join(', ') || 'none'}`);
    assert.equal(served.length, 5, 'exactly spawn_rate instances were created');
    assert.equal(limited.length, 45);
    for (const r of limited) {
      assert.equal(r.json().code, 'TEN_ERR_SCALER_SPAWN_RATE');
      const after = Number(r.headers['retry-after']);
      assert.ok(Number.isInteger(after) && after >= 1 && after <= 600, `Retry-After ${r.headers['retry-after']}`);
    }
    for (const [i, r] of replies.entries()) if (r.status === 200) assert.equal(r.json().instance, `dyn:${ids[i]}`);
    // (the API, not the slower CLI: they expire 5 s after their last request)
    const listed = (await ten.api('GET', '/api/instances?service=dyn')).json().instances as Array<{ id: string }>;
    assert.deepEqual(listed.map((i) => i.id).sort(), [...served].sort());
    assert.deepEqual(stored(ten), { instances: [...served].sort(), marks: [...served].sort() });

    // an id outside spawn_ids: 404 with its code, nothing created (from another address: not the rate)
    const bad = await get(ten, 'bad-1.dyn.localhost', '127.0.0.3');
    assert.equal(bad.status, 404);
    assert.equal(bad.json().code, 'TEN_ERR_SCALER_ID_NOT_ALLOWED');

    // no traffic: each expires 5 s after its last activity, and is gone from ten ps and both stores
    await waitFor('the 5 instances to expire', async () => (await ps(ten)).length === 0, 20_000);
    assert.deepEqual(stored(ten), { instances: [], marks: [] });
    const gone = expiries(ten.output());
    assert.deepEqual(gone.map((e) => e.instance).sort(), served.map((id) => `dyn:${id}`).sort());
    assert.ok(gone.every((e) => e.data === 'kept' && e.idle_seconds >= 5), JSON.stringify(gone));
    for (const id of served) assert.ok(existsSync(join(ten.dir, 'data', 'dyn', id)), `spawn_expire_data = "keep": data/dyn/${id} stays`);
    const events = await ten.api('GET', '/api/logs?service=dyn&stream=event&grep=expire&limit=100');
    assert.equal(events.json().lines.filter((l: { message: string }) => l.message.startsWith('expire: removed after')).length, 5, 'one expire event each');

    // a legitimate client (another address) is served; the hostile address is still limited
    const alice = await get(ten, 'alice.dyn.localhost', '127.0.0.2');
    assert.equal(alice.status, 200, alice.body);
    assert.equal(alice.json().instance, 'dyn:alice');
    assert.equal((await get(ten, 'evil99.dyn.localhost')).status, 429);
  });

  test('the address table is bounded by max_clients; one IPv6 /64 is one client; X-Forwarded-For counts only from a trusted proxy', async () => {
    const ten = await startTen(dyn('spawn_rate = 1\nspawn_rate_window = 600\nmax_instances = 50', 'max_clients = 3'));
    const via = (client: string) => ({ 'x-forwarded-for': client });
    assert.equal((await get(ten, 'a1.dyn.localhost', '127.0.0.1', via('10.0.0.1'))).status, 200);
    const again = await get(ten, 'a2.dyn.localhost', '127.0.0.1', via('10.0.0.1'));
    assert.equal(again.status, 429);
    assert.match(again.json().message, /^10\.0\.0\.1 created 1 instances of dyn/);
    assert.equal((await get(ten, 'b1.dyn.localhost', '127.0.0.1', via('2001:db8::1'))).status, 200);
    assert.equal((await get(ten, 'b2.dyn.localhost', '127.0.0.1', via('2001:db8::ffff:1'))).status, 429, 'same /64');
    // an untrusted peer's X-Forwarded-For is not believed: the peer is the client
    assert.equal((await get(ten, 'c1.dyn.localhost', '127.0.0.2', via('10.9.9.9'))).status, 200);
    assert.equal((await get(ten, 'c2.dyn.localhost', '127.0.0.2', via('10.9.9.8'))).status, 429);
    // the table is full (3 windows running): 1,000 new addresses are all refused, nothing is created
    const codes = new Map<string, number>();
    for (let batch = 0; batch < 20; batch++) {
      const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => get(ten, `h${batch}x${i}.dyn.localhost`, '127.0.0.1', via(`10.1.${batch}.${i}`))));
      for (const r of rs) {
        assert.equal(r.status, 429);
        assert.ok(Number(r.headers['retry-after']) >= 1);
        codes.set(r.json().code, (codes.get(r.json().code) ?? 0) + 1);
      }
    }
    console.log(`1,000 hostile addresses with max_clients = 3: ${JSON.stringify(Object.fromEntries(codes))}`);
    assert.deepEqual(Object.fromEntries(codes), { TEN_ERR_SCALER_SPAWN_CLIENTS: 1000 });
    assert.deepEqual((await ps(ten)).map((i) => i.id).sort(), ['a1', 'b1', 'c1']);
  });

  test('max_instances counts live instances: the least recently active is put to sleep; after a restart asleep ones block nothing and expire on the stored clock', async () => {
    const ten = await startTen(dyn('spawn_rate = 0\nmax_instances = 2\nspawn_expire_after = 600'));
    const state = async (id: string) => (await ten.api('GET', `/api/instances/dyn/${id}`)).json().state as string | undefined;
    for (const id of ['a', 'b']) assert.equal((await get(ten, `${id}.dyn.localhost`)).status, 200);
    const c = await get(ten, 'c.dyn.localhost');
    assert.equal(c.status, 200, c.body);
    await waitFor('a (least recently active) to be put to sleep', async () => (await state('a')) === 'idle', 10_000);
    assert.equal(await state('b'), 'running');
    // waking a evicts b, now the least recently active
    assert.equal((await get(ten, 'a.dyn.localhost')).json().instance, 'dyn:a');
    await waitFor('b to be put to sleep', async () => (await state('b')) === 'idle', 10_000);
    assert.ok(ten.output().includes('"msg":"instance stopped (evicted: max_instances)"'));
    const lastActivity = Date.now();
    assert.equal(await ten.stop(), 0);
    assert.deepEqual(stored(ten), { instances: ['a', 'b', 'c'], marks: ['a', 'b', 'c'] });

    // restarted: a, b and c come back asleep and do not count; two new ids are served at once
    const second = await ten.restart();
    for (const id of ['d', 'e']) {
      const r = await get(second, `${id}.dyn.localhost`, '127.0.0.2');
      assert.equal(r.status, 200, r.body);
    }
    for (const id of ['a', 'b', 'c']) assert.equal((await second.api('GET', `/api/instances/dyn/${id}`)).json().state, 'idle');
    assert.equal(await second.stop(), 0);

    // the third ten serve expires after 3 s; it starts more than 5 s after a, b and c were last
    // active, so their time is up when it starts, without a request
    writeFileSync(ten.configPath, readFileSync(ten.configPath, 'utf8').replace('spawn_expire_after = 600', 'spawn_expire_after = 3'));
    await sleep(Math.max(0, lastActivity + 5000 - Date.now()));
    const third = await ten.restart();
    const restarted = Date.now();
    await waitFor('a, b and c to expire without a request', async () => (await ps(third)).every((i) => i.id === 'd' || i.id === 'e'), 20_000);
    const gone = expiries(third.output()).filter((e) => ['dyn:a', 'dyn:b', 'dyn:c'].includes(e.instance));
    assert.deepEqual(gone.map((e) => e.instance).sort(), ['dyn:a', 'dyn:b', 'dyn:c']);
    // their idle clock ran on across both restarts: counted from their last activity in the first
    // ten serve (a clock restarted with ten serve would expire them 3 s after it, idle_seconds 3)
    const down = Math.floor((restarted - lastActivity) / 1000);
    console.log(`${restarted - lastActivity} ms since their last activity; expired by the third ten serve with idle_seconds ${gone.map((e) => `${e.instance}=${e.idle_seconds}`).join(', ')}`);
    assert.ok(down >= 5);
    for (const e of gone) assert.ok(e.idle_seconds >= down - 1 && e.idle_seconds > 3, `${e.instance}: idle ${e.idle_seconds} s, down ${down} s`);
    assert.deepEqual(stored(third).marks.filter((id) => id !== 'd' && id !== 'e'), []);
  });

  test('spawn_expire_data = "remove" removes the data folder; ten spawn never expires, also under an id a request once made', async () => {
    const ten = await startTen(dyn('spawn_rate = 0\nspawn_expire_after = 3\nspawn_expire_data = "remove"'));
    for (const id of ['x', 'y']) assert.equal((await get(ten, `${id}.dyn.localhost`)).status, 200);
    assert.ok(existsSync(join(ten.dir, 'data', 'dyn', 'x')));
    // y: removed by an admin, then made again by one, with admin1 beside it
    assert.equal((await ten.api('DELETE', '/api/instances/dyn/y')).status, 200);
    for (const id of ['y', 'admin1']) assert.equal((await ten.api('POST', '/api/instances', { service: 'dyn', id })).status, 201);
    await waitFor('x to expire', async () => !(await ps(ten)).some((i) => i.id === 'x'), 20_000);
    await waitFor('data/dyn/x and its renamed copy to be gone', () => readdirSync(join(ten.dir, 'data', 'dyn')).every((n) => n !== 'x' && !n.startsWith('.expired-x-')), 10_000);
    assert.deepEqual(expiries(ten.output()).map((e) => [e.instance, e.data]), [['dyn:x', 'removed']]);
    await sleep(4000); // more than spawn_expire_after again: the admin's instances stay
    assert.deepEqual((await ps(ten)).map((i) => [i.id, i.state]).sort(), [['admin1', 'running'], ['y', 'running']]);
    assert.deepEqual(stored(ten).marks, []);
  });
});
