// Hostile input, classes 2 and 3 (issue 11), against a real `ten serve`: request bodies of wrong
// types, over the body limit, 10,000 levels deep, with unicode and control characters, invalid
// JSON and wrong content types, for every POST/PUT route the server logs at start (the core's and
// the plugins', so a new route is covered without touching this file); ids and names with `..`,
// `/`, `%2F`, NUL, uppercase, 64+ characters, lookalikes, empty, in URL parameters of every route,
// in bodies and on the `ten` command line. Each is answered 4xx with a TEN_ERR_* code (the CLI:
// exit 1 and `error TEN_ERR_*`), never a 5xx, a crash or a hang; after each batch the server
// answers /health and nothing was created (fuzz-world.ts). Counts are printed as diagnostics.
// FUZZ_SEED=n replays a run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { cleanup } from './harness.ts';
import { inProcessCli } from './cli-helper.ts';
import { rawExchange, rawHead, type RawReply } from './raw-http.ts';
import { check, Tally } from '../fuzz.ts';
import { fill, HOSTILE_IDS, hostileIdArb, MARK, startWorld, UPPERCASE_IDS, type World } from './fuzz-world.ts';

after(cleanup);

/** fastify's bodyLimit for the management API (core/listener.ts). */
const BODY_LIMIT = 1024 * 1024;
/** Fields the API's bodies take, for objects of the right shape with wrong values. */
const FIELDS = ['service', 'id', 'weight', 'version', 'timeout', 'strategy', 'batch', 'from', 'to', 'force', 'steps', 'interval', 'max_error_rate', 'max_p99_ms', 'percent'];
const CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/json; charset=latin1',
  'application/json; charset=utf-16', 'APPLICATION/JSON; charset="utf-8"', '', 'application/json, text/plain', `application/${'x'.repeat(2000)}`, '*/*', 'application/octet-stream'];

describe('hostile API input against a running ten serve (fuzz)', () => {
  let w: World;
  let bodyRoutes: Array<{ method: string; url: string }>;
  let paramRoutes: Array<{ method: string; url: string }>;

  before(async () => {
    w = await startWorld();
    const all = w.routes.map((r) => { const [method, url] = r.split(' '); return { method, url }; });
    bodyRoutes = all.filter((r) => r.method === 'POST' || r.method === 'PUT');
    paramRoutes = all.filter((r) => r.url.includes(':') && r.method !== 'HEAD');
    // the list is the server's own: it has at least the core's routes
    for (const r of ['POST /api/instances', 'PUT /api/instances/:service/:id/weight', 'POST /api/instances/:service/:id/restart']) assert.ok(w.routes.includes(r), r);
  });

  /** One request to the management host, by raw socket; resolves with its answer. */
  const send = (method: string, target: string, lines: string[], body?: Buffer): Promise<RawReply> =>
    rawExchange(w.ten.port, [rawHead(method, target, [`Host: localhost`, `Authorization: Bearer ${w.ten.token}`, ...lines], body), ...(body ? [body] : [])]);
  const json = (method: string, target: string, body: string | Buffer, type = 'application/json') =>
    send(method, target, type === '' ? [] : [`Content-Type: ${type}`], Buffer.isBuffer(body) ? body : Buffer.from(body));

  /** A refusal of tenement's: 4xx, a TEN_ERR_* code in a JSON body, the API header. */
  function assertRefused(r: RawReply, what: string, tally: Tally, status?: number): void {
    assert.ok(r.status !== undefined && r.status >= 400 && r.status < 500, `${what}: status ${r.status}, body ${r.body.slice(0, 300)}`);
    if (status !== undefined) assert.equal(r.status, status, `${what}: ${r.body.slice(0, 300)}`);
    assert.ok(r.code, `${what}: no TEN_ERR_* code in ${r.body.slice(0, 300)}`);
    assert.match(r.headers['content-type'] ?? '', /application\/json/, what);
    assert.ok(r.headers['x-tenement-api'], `${what}: no API header`);
    assert.doesNotMatch(r.body, /\bat .*\.(ts|js|mjs):\d+/, `${what}: stack frame in the body`);
    tally.add(`${r.status} ${r.code}`);
  }

  /** A route's path with a name nobody has ("ghost") in each parameter: only the body is wrong. */
  const ghost = (url: string) => fill(url, () => 'ghost');

  test('every POST/PUT route: bodies over the limit (Content-Length and chunked) → 413 TEN_ERR_API_BODY_TOO_LARGE', { timeout: 60_000 }, async (t) => {
    const tally = new Tally();
    const big = Buffer.from(`{"service":"${'x'.repeat(BODY_LIMIT)}"}`);
    for (const r of bodyRoutes) {
      const what = `${r.method} ${r.url}`;
      // chunked: no length announced, the limit is counted as the body arrives
      const chunked = Buffer.concat([Buffer.from(`${(BODY_LIMIT + 10).toString(16)}\r\n`), Buffer.alloc(BODY_LIMIT + 10, 0x20), Buffer.from('\r\n0\r\n\r\n')]);
      const replies: Array<[string, RawReply]> = [
        [`${big.length} bytes`, await json(r.method, ghost(r.url), big)],
        ['chunked', await send(r.method, ghost(r.url), ['Content-Type: application/json', 'Transfer-Encoding: chunked'], chunked)],
        // a Content-Length above the limit and no body sent: refused at once, not waited for
        ['announcing 1 GiB', await send(r.method, ghost(r.url), ['Content-Type: application/json', `Content-Length: ${BODY_LIMIT * 1024}`])],
      ];
      for (const [how, reply] of replies) {
        assertRefused(reply, `${what} ${how}`, tally, 413);
        assert.equal(reply.code, 'TEN_ERR_API_BODY_TOO_LARGE', `${what} ${how}`);
      }
    }
    tally.print(t, `oversized bodies (${bodyRoutes.length} routes)`);
    await w.assertIntact('oversized bodies');
  });

  test('every POST/PUT route: 10,000 levels of nesting, invalid JSON, prototype keys, wrong content types → 4xx', { timeout: 60_000 }, async (t) => {
    const tally = new Tally();
    const deepArray = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const deepObject = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const bodies: Array<[string, string | Buffer]> = [
      ['10k nested arrays', deepArray], ['10k nested objects', deepObject],
      ['10k nested as a field', `{"service":${deepArray},"weight":${deepObject}}`],
      ['empty', ''], ['truncated', '{"service":"api","id":'], ['trailing garbage', '{"service":"api"} x'], ['two documents', '{}{}'],
      ['single quotes', "{'service':'api'}"], ['NaN', '{"weight":NaN}'], ['Infinity', '{"weight":Infinity}'], ['comment', '{"weight":1 /* x */}'],
      ['BOM', '\ufeff{"weight":1}'], ['lone surrogate', '{"service":"\\ud800"}'], ['NUL escape', '{"service":"\\u0000"}'],
      ['raw NUL', '{"service":"a\u0000b"}'], ['raw control characters', '{"service":"\u0001\u001f\u007f"}'],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc0, 0x22, 0x7d])],
      ['__proto__', '{"__proto__":{"weight":1},"service":"ghost"}'], ['constructor.prototype', '{"constructor":{"prototype":{"weight":1}}}'],
      ['1 MB of unicode', `{"service":"${'é'.repeat(BODY_LIMIT / 4)}"}`], ['huge number', `{"weight":1${'0'.repeat(5000)}}`],
      ['null', 'null'], ['a string', '"api"'], ['a number', '50'], ['true', 'true'], ['an array', '["api","v1"]'],
    ];
    for (const r of bodyRoutes) {
      for (const [what, body] of bodies) assertRefused(await json(r.method, ghost(r.url), body), `${r.method} ${r.url}: ${what}`, tally);
      for (const type of CONTENT_TYPES) assertRefused(await json(r.method, ghost(r.url), '{"service":"ghost"}', type), `${r.method} ${r.url}: Content-Type ${type.slice(0, 40)}`, tally);
    }
    tally.print(t, `malformed bodies (${bodies.length + CONTENT_TYPES.length} per route × ${bodyRoutes.length} routes)`);
    await w.assertIntact('malformed bodies');
  });

  test('random bodies on random POST/PUT routes: JSON of any shape, the right fields with wrong values, unicode and controls → 4xx', { timeout: 60_000 }, async (t) => {
    const tally = new Tally();
    const value = fc.oneof(
      hostileIdArb, fc.constantFrom<unknown>(-1, 0, 1.5, 101, 1e308, -1e308, 2 ** 53 + 1, '50', '', [50], {}, null, true, false, 'ghost', '\u0000', '1s', 'NaN'),
      fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
      fc.dictionary(fc.constantFrom(...FIELDS), value, { minKeys: 1, maxKeys: 6 }).map((o) => JSON.stringify(o)),
      fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 10 }), value, { maxKeys: 4 }).map((o) => JSON.stringify(o)),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    // a route whose fields are all optional (POST /api/tokens: {} makes an admin token) takes some
    // random bodies as they are: for it a 2xx is a valid answer too, never a 5xx
    const open = new Set<string>();
    // and a route that takes no body (POST /api/reload) answers a request without one
    const bare = new Set<string>();
    for (const r of bodyRoutes) {
      if ((await json(r.method, ghost(r.url), '{}')).status! < 300) open.add(`${r.method} ${r.url}`);
      if ((await json(r.method, ghost(r.url), '', '')).status! < 300) bare.add(`${r.method} ${r.url}`);
    }
    await check(fc.asyncProperty(fc.constantFrom(...bodyRoutes), body, fc.oneof({ weight: 5, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) }), async (r, b, type) => {
      const reply = await json(r.method, ghost(r.url), b, type);
      const ok = reply.status! >= 200 && reply.status! < 300;
      if (ok && open.has(`${r.method} ${r.url}`)) tally.add(`${reply.status} accepted (${r.method} ${r.url} takes {})`);
      else if (ok && b === '' && type === '' && bare.has(`${r.method} ${r.url}`)) tally.add(`${reply.status} accepted (${r.method} ${r.url} takes no body)`);
      else assertRefused(reply, `${r.method} ${r.url} ${type} ${b.slice(0, 200)}`, tally);
    }), 500);
    // what the open routes made (tokens) is taken back
    const made = await json('GET', '/api/tokens', '');
    for (const tok of (JSON.parse(made.body).tokens ?? []) as Array<{ id: string }>) if (tok.id !== 'admin') await json('DELETE', `/api/tokens/${tok.id}`, '');
    tally.print(t, `random bodies (routes that take {}: ${[...open].join(', ') || 'none'})`);
    await w.assertIntact('random bodies');
  });

  test('every route with parameters: hostile names in each parameter (.., /, %2F, NUL, uppercase, 64+ chars, lookalikes, empty) → 4xx', { timeout: 60_000 }, async (t) => {
    const tally = new Tally();
    // as a client would encode them, and raw where HTTP lets them through (a literal .., %2F, %00)
    const forms = (id: string) => [encodeURIComponent(id), ...(/^[\x21-\x7e]*$/.test(id) && !/[?#]/.test(id) ? [id] : [])];
    for (const r of paramRoutes) {
      const params = (r.url.match(/:\w+/g) ?? []).length;
      for (const id of [...HOSTILE_IDS, ...UPPERCASE_IDS]) {
        for (const form of forms(id)) {
          for (let i = 0; i < params; i++) {
            const target = fill(r.url, (_, j) => (j === i ? form : 'ghost'));
            const body = r.method === 'POST' || r.method === 'PUT' ? Buffer.from('{}') : undefined;
            const reply = await send(r.method, target, body ? ['Content-Type: application/json'] : [], body);
            assertRefused(reply, `${r.method} ${target}`, tally);
          }
        }
      }
    }
    tally.print(t, `hostile URL parameters (${paramRoutes.length} routes)`);
    await w.assertIntact('hostile URL parameters');
  });

  test('hostile names in bodies: every name field of every POST/PUT route → 4xx, nothing created', { timeout: 60_000 }, async (t) => {
    const tally = new Tally();
    const named = ['service', 'id', 'version', 'from', 'to'];
    await check(fc.asyncProperty(fc.constantFrom(...bodyRoutes), fc.constantFrom(...named), fc.oneof(hostileIdArb, fc.constantFrom(...UPPERCASE_IDS)), async (r, field, id) => {
      // an otherwise plausible body for the existing service, with one hostile name
      const body = { service: 'api', id: 'x1', version: 'x1', from: 'v1', to: 'x1', [field]: id };
      const target = fill(r.url, (p) => (p === 'service' ? 'api' : 'ghost'));
      assertRefused(await json(r.method, target, JSON.stringify(body)), `${r.method} ${target} ${field}=${JSON.stringify(id)}`, tally);
    }), 600);
    // and the spawn route, each hostile id exactly
    for (const id of [...HOSTILE_IDS, ...UPPERCASE_IDS]) {
      assertRefused(await json('POST', '/api/instances', JSON.stringify({ service: 'api', id })), `spawn api:${JSON.stringify(id)}`, tally, 400);
      assertRefused(await json('POST', '/api/instances', JSON.stringify({ service: id, id: 'x1' })), `spawn ${JSON.stringify(id)}:x1`, tally, 400);
    }
    tally.print(t, 'hostile names in bodies');
    await w.assertIntact('hostile names in bodies');
  });

  test('hostile names on the command line (ten spawn \'api:../x\', weight, stop, deploy, route, ...) → exit 1 with a code, nothing sent that creates', { timeout: 90_000 }, async (t) => {
    const tally = new Tally();
    const cli = inProcessCli(w.ten);
    const commands = (id: string): string[][] => [
      ['spawn', `api:${id}`], ['spawn', 'api', '--id', id], ['spawn', id], ['spawn', `${id}:x1`], ['weight', `api:${id}`, '5'], ['stop', `api:${id}`],
      ['restart', `api:${id}`], ['health', `api:${id}`], ['logs', `api:${id}`], ['deploy', 'api', '--version', id], ['deploy', `api:${id}`],
      ['route', 'api', '--from', 'v1', '--to', id], ['rollout', 'api', '--to', id, '--steps', '50,100', '--interval', '1s'],
      ['shadow', 'api', '--to', id], ['history', id], ['rollout', 'status', id], ['ps', '--service', id],
    ];
    const outcome = async (args: string[]) => {
      const r = await cli(...args);
      const what = `ten ${args.map((a) => JSON.stringify(a)).join(' ')}`;
      assert.notEqual(r.code, 0, `${what} exited 0:\n${r.out}`);
      assert.match(r.err, /^error TEN_ERR_[A-Z_]+: /m, `${what}:\n${r.err}`);
      assert.doesNotMatch(r.err, /^\s+at /m, `${what}: a stack trace\n${r.err}`);
      tally.add(`exit ${r.code} ${/^error (TEN_ERR_[A-Z_]+)/m.exec(r.err)![1]}`);
    };
    // each listed id in one command (in turn: every command gets some), then random ones
    const listed = [...HOSTILE_IDS, ...UPPERCASE_IDS].filter((s) => s !== '' && !s.startsWith('-'));
    for (const [i, id] of listed.entries()) await outcome(commands(id)[i % 17]);
    await check(fc.asyncProperty(hostileIdArb.filter((s) => s !== '' && !s.startsWith('-')), fc.nat(), async (id, k) => {
      const list = commands(id);
      await outcome(list[k % list.length]);
    }), 150);
    // and through the real binary, as a shell passes it
    for (const args of [['spawn', `api:../${MARK}`], ['weight', `api:${'a'.repeat(64)}`, '5']]) {
      const r = await w.ten.cli(...args);
      assert.equal(r.code, 1, `ten ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^error TEN_ERR_[A-Z_]+: /m, r.stderr);
      tally.add(`binary exit ${r.code}`);
    }
    tally.print(t, 'hostile names on the command line');
    await w.assertIntact('hostile names on the command line');
  });
});
