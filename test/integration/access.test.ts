// Acceptance 1 of issue 11 on a real ten serve with the real CLI (docs/access.md): a tenant token
// for alice gets 403 on bob's instance for EVERY route of the management API — the route table is
// read from the running server (GET /api/routes), so a route added later, a plugin's included, is
// covered without touching this file — including the log stream and the metrics; deploy and route
// are refused; her own instances work; 401 vs 403; token create, list, revoke and expiry.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { cleanup, fixtureService, startTen, waitFor, type Ten } from './harness.ts';
import { inProcessCli, type TenCli } from './cli-helper.ts';

interface Probe { status: number; headers: http.IncomingHttpHeaders; body: string }

/**
 * One request with node:http on its own connection. A text/event-stream answer is read until its
 * first event with data (or 5 s, a bound, not a timing assertion), then the connection is closed.
 */
function probe(port: number, method: string, path: string, token: string | null, body?: unknown): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port, method, path, agent: false,
      headers: { host: 'localhost', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(text ? { 'content-type': 'application/json' } : {}) },
    }, (res) => {
      let got = '';
      const done = () => { clearTimeout(timer); resolve({ status: res.statusCode!, headers: res.headers, body: got }); req.destroy(); };
      const stream = String(res.headers['content-type']).startsWith('text/event-stream');
      const timer = setTimeout(done, stream ? 5000 : 30_000);
      res.setEncoding('utf8');
      res.on('data', (c: string) => { got += c; if (stream && /\ndata: .*\n\n/.test(got)) done(); });
      res.on('end', done);
      res.on('error', done);
    });
    req.on('error', reject);
    req.end(text);
  });
}

const TOML = `${fixtureService('web')}${fixtureService('api')}
[instances]
web = ["alice", "bob"]
api = ["bob"]
`;

let ten: Ten;
let cli: TenCli;
let alice: string;
let aliceId: string;

before(async () => {
  ten = await startTen(TOML);
  cli = inProcessCli(ten);
  for (const key of ['web:alice', 'web:bob', 'api:bob']) {
    await waitFor(`${key} running`, async () => (await ten.api('GET', `/api/instances/${key.replace(':', '/')}`)).json().state === 'running', 30_000);
  }
  const made = await cli('token', 'create', '--tenant', 'alice', '--description', 'alice CI');
  assert.equal(made.code, 0, made.err);
  alice = made.out.trim();
  aliceId = alice.split('.')[0];
  assert.match(alice, /^[0-9a-f]{12}\.[0-9a-f]{64}$/, 'the token is printed on stdout, alone');
  assert.match(made.err, new RegExp(`^token ${aliceId} \\(tenant alice\\): shown once, keep it now\\n$`));
});
after(cleanup);

describe('a tenant token for alice', () => {
  test('403 on bob for every route of the route table; filtered answers name no bob', async () => {
    const table = (await ten.api('GET', '/api/routes')).json().routes as Array<{ method: string; url: string; access: string }>;
    const counts: Record<string, number> = {};
    for (const r of table) counts[r.access] = (counts[r.access] ?? 0) + 1;
    console.log(`route table: ${table.length} routes by access: ${JSON.stringify(counts)}`);
    assert.ok(table.length >= 30, 'the core, logs, tokens, workflows, exporter, scaler and dashboard routes');
    // every parameter names bob's instance or something not hers
    const path = (url: string) => url.replace(':service', 'web').replace(':id', 'bob').replace(/:[a-z]+/g, '1').replace('*', 'x');
    const body = { service: 'web', id: 'bob' };
    let checked = 0;
    for (const r of table) {
      if (r.access === 'public') continue;
      const qs = r.method === 'GET' || r.method === 'HEAD' ? '?service=web&id=bob' : '';
      const withBody = r.method === 'POST' || r.method === 'PUT' ? body : undefined;
      const a = await probe(ten.port, r.method, path(r.url) + qs, alice, withBody);
      const what = `${r.method} ${r.url} (${r.access})`;
      if (r.access === 'tenant') {
        // the handler limits itself: a refusal, or an answer without bob in it
        assert.ok(a.status === 403 || (a.status >= 200 && a.status < 300), `${what}: ${a.status} ${a.body.slice(0, 200)}`);
        if (a.status !== 403) assert.ok(!/bob/.test(a.body), `${what} shows bob's data to alice: ${a.body.slice(0, 300)}`);
        else if (r.method !== 'HEAD') assert.equal(JSON.parse(a.body).code, 'TEN_ERR_API_FORBIDDEN', what);
      } else {
        assert.equal(a.status, 403, `${what}: ${a.status} ${a.body.slice(0, 200)}`);
        if (r.method !== 'HEAD') assert.equal(JSON.parse(a.body).code, 'TEN_ERR_API_FORBIDDEN', what);
        assert.equal(a.headers['www-authenticate'], 'Bearer realm="tenement", error="insufficient_scope"', what);
      }
      checked++;
    }
    console.log(`alice checked on ${checked} non-public routes`);
    assert.equal(checked, table.filter((r) => r.access !== 'public').length);
  });

  test('the log stream and the metrics: bob refused, alice\'s own only', async () => {
    const stream = await probe(ten.port, 'GET', '/api/logs/stream?service=web&id=bob&n=5', alice);
    assert.equal(stream.status, 403);
    const own = await probe(ten.port, 'GET', '/api/logs/stream?n=50', alice);
    assert.equal(own.status, 200);
    assert.match(own.body, /"instance":"alice"/);
    assert.doesNotMatch(own.body, /bob/);
    const metrics = await probe(ten.port, 'GET', '/metrics', alice);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /tenement_instance_state\{service="web",instance="alice",state="running"\} 1/);
    assert.doesNotMatch(metrics.body, /bob|process_cpu|tenement_rollout/, 'no other instance, no ten serve process, no service-wide series');
    const all = await probe(ten.port, 'GET', '/metrics', ten.token);
    assert.match(all.body, /instance="bob"/, 'an admin token sees everything');
    const stats = await probe(ten.port, 'GET', '/api/stats/stream', alice);
    assert.equal(stats.status, 200);
    const event = JSON.parse(/data: (.*)\n/.exec(stats.body)![1]);
    assert.deepEqual(event.instances.map((i: { service: string; instance: string }) => `${i.service}:${i.instance}`), ['web:alice']);
  });

  test('deploy, route, rollout, shadow, history, tokens and services are refused', async () => {
    for (const args of [
      ['deploy', 'web:v2'], ['route', 'web', '--from', 'alice', '--to', 'bob'], ['rollout', 'web', '--to', 'alice', '--steps', '50', '--interval', '1s'],
      ['shadow', 'web', '--to', 'alice'], ['history'], ['token', 'list'], ['token', 'create', '--tenant', 'alice'], ['spawn', 'web:carol'], ['stop', 'web:bob'],
    ]) {
      const r = await cli.with({ token: alice }, ...args);
      assert.equal(r.code, 1, `ten ${args.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.err, /^error TEN_ERR_API_FORBIDDEN: the token of tenant alice may not /, `ten ${args.join(' ')}`);
    }
    assert.equal((await probe(ten.port, 'GET', '/api/services', alice)).status, 403);
  });

  test('her own instances work: ps, weight, health, restart, logs, top, stop, spawn', async () => {
    const as = (...args: string[]) => cli.with({ token: alice }, ...args);
    const ps = await as('ps', '--json');
    assert.deepEqual(JSON.parse(ps.out).instances.map((i: { key: string }) => i.key), ['web:alice']);
    assert.equal((await as('weight', 'web:alice', '40')).code, 0);
    assert.equal((await as('health', 'web:alice')).code, 0);
    assert.equal((await as('restart', 'web:alice')).code, 0);
    const logs = await as('logs', 'web:alice', '-n', '5');
    assert.equal(logs.code, 0, logs.err);
    const top = await as('top', '--json');
    assert.deepEqual(JSON.parse(top.out).instances.map((i: { instance: string }) => i.instance), ['alice']);
    assert.equal((await as('stop', 'web:alice')).code, 0);
    const spawn = await as('spawn', 'api:alice');
    assert.equal(spawn.code, 0, spawn.err);
    assert.deepEqual(JSON.parse((await as('ps', '--json')).out).instances.map((i: { key: string }) => i.key), ['api:alice']);
    const who = await probe(ten.port, 'GET', '/api/whoami', alice);
    assert.deepEqual(JSON.parse(who.body), { token: aliceId, tenant: 'alice', expires_at: null, services: ['web', 'api'] });
  });
});

test('docs/access.md lists the live route table: each route with its access', async () => {
  const live = (await ten.api('GET', '/api/routes')).json().routes as Array<{ method: string; url: string; access: string }>;
  const doc = readFileSync(new URL('../../docs/access.md', import.meta.url), 'utf8').split('\n');
  const start = doc.findIndex((l) => l === '| method | path | access |');
  const rows: string[] = [];
  for (let i = start + 2; doc[i]?.startsWith('|'); i++) {
    const [method, path, access] = doc[i].split('|').slice(1, -1).map((c) => c.trim());
    rows.push(`${method} ${path.replace(/`/g, '')} ${access.split(':')[0]}`);
  }
  assert.deepEqual(rows, live.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url} ${r.access}`));
  const heads = new Set(live.filter((r) => r.method === 'HEAD').map((r) => r.url));
  assert.deepEqual(live.filter((r) => r.method === 'GET' && !heads.has(r.url)).map((r) => r.url), ['/api/logs/stream', '/api/stats/stream']);
});

describe('401 vs 403, and token management', () => {
  test('no token and a wrong token are 401 with WWW-Authenticate; a valid token out of scope is 403', async () => {
    const none = await probe(ten.port, 'GET', '/api/instances', null);
    assert.equal(none.status, 401);
    assert.equal(JSON.parse(none.body).code, 'TEN_ERR_API_UNAUTHORIZED');
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="tenement"', 'RFC 6750 §3.1: no error code without credentials');
    const wrong = await probe(ten.port, 'GET', '/api/instances', `${aliceId}.${'0'.repeat(64)}`);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="tenement", error="invalid_token"');
    const scoped = await probe(ten.port, 'POST', '/api/workflows/deploy', alice, { service: 'web', version: 'v9' });
    assert.equal(scoped.status, 403);
  });

  test('list shows scope, description and last use, never a secret; revoke makes the token 401', async () => {
    const extra = await cli('token', 'create', '--tenant', 'dave', '--json');
    const made = JSON.parse(extra.out);
    const list = await cli('token', 'list', '--json');
    const tokens = JSON.parse(list.out).tokens as Array<{ id: string; tenant: string | null; description: string; last_used_at: string | null }>;
    assert.deepEqual(tokens.map((t) => [t.id, t.tenant]), [['admin', null], [aliceId, 'alice'], [made.id, 'dave']]);
    assert.equal(tokens[1].description, 'alice CI');
    assert.ok(tokens[1].last_used_at !== null, 'alice\'s token has been used');
    for (const secret of [alice.split('.')[1], made.token.split('.')[1], ten.token]) assert.ok(!list.out.includes(secret), 'no secret in the list');
    const table = await cli('token', 'list');
    assert.match(table.out, /^ID +SCOPE +CREATED +EXPIRES +LAST USED +DESCRIPTION\n/);
    assert.match(table.out, new RegExp(`\\n${aliceId} +tenant:alice +\\S+ \\S+ +never +\\S+ \\S+ +alice CI\\n`));
    assert.equal((await probe(ten.port, 'GET', '/api/whoami', made.token)).status, 200);
    const revoked = await cli('token', 'revoke', made.id);
    assert.equal(revoked.out, `token ${made.id} revoked\n`);
    assert.equal((await probe(ten.port, 'GET', '/api/whoami', made.token)).status, 401);
    const again = await cli('token', 'revoke', made.id);
    assert.match(again.err, /^error TEN_ERR_TOKEN_NOT_FOUND: /);
    const file = await cli('token', 'revoke', 'admin');
    assert.match(file.err, /^error TEN_ERR_TOKEN_PROTECTED: /);
  });

  test('an expired token is refused (401) and listed as expired; a made admin token reaches everything', async () => {
    const short = JSON.parse((await cli('token', 'create', '--tenant', 'erin', '--expires', '1s', '--json')).out);
    assert.equal(Date.parse(short.expires_at) - Date.parse(short.created_at), 1000);
    await waitFor('the 1 s token to expire', async () => (await probe(ten.port, 'GET', '/api/whoami', short.token)).status === 401, 20_000);
    const listed = JSON.parse((await cli('token', 'list', '--json')).out).tokens.find((t: { id: string }) => t.id === short.id);
    assert.equal(listed.expired, true);
    assert.match((await cli('token', 'list')).out, new RegExp(`\\n${short.id} +tenant:erin .*\\(expired\\)`));
    const bad = await cli('token', 'create', '--expires', '30x');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^error TEN_ERR_CLI_INVALID_ARGUMENT: invalid --expires "30x"/);
    const admin = (await cli('token', 'create', '--description', 'bot')).out.trim();
    assert.equal((await probe(ten.port, 'GET', '/api/services', admin)).status, 200);
    assert.equal((await probe(ten.port, 'GET', '/api/tokens', admin)).status, 200);
  });
});
