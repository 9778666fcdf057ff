// Hostile input, classes 3 (ids in Host headers) and 4 (Host headers), against a real `ten serve`,
// by raw socket so the bytes are exactly those written: no Host, two Host lines (400, RFC 9112
// §3.2), empty, with ports, IPv6 literals, trailing dots, uppercase, 10 KB and 20 KB long, non-ASCII
// and control bytes, absolute-form targets that disagree with Host (the target wins, RFC 9112
// §3.2.2), and hostile ids as the instance label of `{id}.{service}.{domain}`, including a
// spawn_on_request service (nothing may be created for them). Every request is answered, never
// with a 5xx; after each batch the server answers /health and nothing was created (fuzz-world.ts).
// Counts are printed as diagnostics. FUZZ_SEED=n replays a run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { isDnsLabel } from '../../core/config-schema.ts';
import { cleanup } from './harness.ts';
import { rawExchange, type RawReply } from './raw-http.ts';
import { check, Tally } from '../fuzz.ts';
import { HOSTILE_IDS, hostileIdArb, startWorld, type World } from './fuzz-world.ts';

after(cleanup);

/** `GET target` with these header lines (UTF-8, verbatim) and Connection: close. */
function head(lines: string[], target = '/health', version = '1.1'): Buffer {
  return Buffer.from(`GET ${target} HTTP/${version}\r\n${lines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`, 'utf8');
}

/** What the router makes of a Host, as far as this test must know: lowercased, no port, no trailing dot. */
const norm = (h: string) => h.toLowerCase().replace(/:\d*$/, '').replace(/\.$/, '');

describe('hostile Host headers against a running ten serve (fuzz)', () => {
  let w: World;
  before(async () => { w = await startWorld(); });

  /** Sends, and checks what every answer must be: one, with a status, not 5xx, a code on 4xx. */
  async function exchange(bytes: Buffer, what: string, tally: Tally): Promise<RawReply> {
    const r = await rawExchange(w.ten.port, bytes);
    assert.ok(r.status !== undefined, `${what}: closed without an answer`);
    assert.ok(r.status < 500, `${what}: ${r.status} ${r.body.slice(0, 300)}`);
    if (r.status >= 400) assert.ok(r.code, `${what}: ${r.status} without a TEN_ERR_* code: ${r.body.slice(0, 300)}`);
    tally.add(`${r.status}${r.code ? ` ${r.code}` : ''}`);
    return r;
  }

  test('the Host shapes of the brief, each with its expected answer', { timeout: 60_000 }, async (t) => {
    const tally = new Tally();
    const long = 'a'.repeat(10 * 1024);
    // [what, header lines, target, status, text the body must contain]
    const cases: Array<[string, string[], string, number, string?]> = [
      ['no Host (HTTP/1.1)', [], '/health', 400, 'no Host header'],
      ['two Host lines, same value', ['Host: localhost', 'Host: localhost'], '/health', 400, 'more than one Host header'],
      ['two Host lines, different values', ['Host: v1.api.localhost', 'Host: localhost'], '/health', 400, 'more than one Host header'],
      ['two Host lines, differently cased names', ['Host: localhost', 'host: v1.api.localhost'], '/health', 400, 'more than one Host header'],
      ['empty Host (allowed: a URI without authority, RFC 9110 §7.2): the management host', ['Host: '], '/health', 200, '"status":"ok"'],
      ['service host', ['Host: v1.api.localhost'], '/health', 200],
      ['with a port', ['Host: v1.api.localhost:8080'], '/', 200, 'api:v1'],
      ['with an empty port', ['Host: v1.api.localhost:'], '/', 200, 'api:v1'],
      ['with a 6-digit port', ['Host: v1.api.localhost:123456'], '/', 400, 'invalid Host'],
      ['with a non-numeric port', ['Host: v1.api.localhost:8o'], '/', 400, 'invalid Host'],
      ['with two ports', ['Host: v1.api.localhost:80:80'], '/', 400, 'invalid Host'],
      ['only a port', ['Host: :8080'], '/health', 200, '"status":"ok"'],
      ['IPv6 literal', ['Host: [::1]'], '/health', 200, '"status":"ok"'],
      ['IPv6 literal with a port', ['Host: [::1]:8080'], '/health', 200, '"status":"ok"'],
      ['IPv6 without brackets', ['Host: ::1'], '/health', 400, 'invalid Host'],
      ['IPv6 unclosed', ['Host: [::1'], '/health', 400, 'invalid Host'],
      ['IPv6 with a zone', ['Host: [fe80::1%25eth0]'], '/health', 400, 'invalid Host'],
      ['IPvFuture', ['Host: [v1.x]'], '/health', 400, 'invalid Host'],
      ['trailing dot', ['Host: v1.api.localhost.'], '/', 200, 'api:v1'],
      ['trailing dot, balanced', ['Host: api.localhost.'], '/', 200, 'api:v1'],
      ['two trailing dots: not under the domain', ['Host: v1.api.localhost..'], '/health', 200, '"status":"ok"'],
      ['a lone dot', ['Host: .'], '/health', 200, '"status":"ok"'],
      ['uppercase (host names are case-insensitive)', ['Host: V1.API.LOCALHOST'], '/', 200, 'api:v1'],
      ['mixed case', ['Host: v1.Api.LocalHost'], '/', 200, 'api:v1'],
      ['10 KB host name: the management host', [`Host: ${long}`], '/health', 200, '"status":"ok"'],
      ['10 KB instance label', [`Host: ${long}.api.localhost`], '/', 404, 'TEN_ERR_ROUTE_UNKNOWN_INSTANCE'],
      ['10 KB label on the spawn_on_request service', [`Host: ${long}.dyn.localhost`], '/', 404, 'TEN_ERR_ROUTE_UNKNOWN_INSTANCE'],
      ['20 KB host name: over max_header_size', [`Host: ${'a'.repeat(20 * 1024)}`], '/health', 431, 'TEN_ERR_HTTP_HEADERS_TOO_LARGE'],
      ['non-ASCII (UTF-8 bytes)', ['Host: ápi.localhost'], '/health', 400, 'invalid Host'],
      ['Cyrillic lookalike', ['Host: v1.\u0430pi.localhost'], '/health', 400, 'invalid Host'],
      ['NUL byte', ['Host: v1.api\0.localhost'], '/health', 400],
      ['control byte', ['Host: v1.api\x01.localhost'], '/health', 400],
      ['userinfo', ['Host: user@v1.api.localhost'], '/health', 400, 'invalid Host'],
      ['a path in Host', ['Host: v1.api.localhost/x'], '/health', 400, 'invalid Host'],
      ['Host with spaces around (trimmed by HTTP, RFC 9110 §5.5)', ['Host:   v1.api.localhost   '], '/', 200, 'api:v1'],
      ['a space inside', ['Host: v1 .api.localhost'], '/health', 400, 'invalid Host'],
      ['HTTP/1.0 without Host: the management host', [], '/health', 200, '"status":"ok"'],
    ];
    for (const [what, lines, target, status, text] of cases) {
      const r = await exchange(head(lines, target, what.startsWith('HTTP/1.0') ? '1.0' : '1.1'), what, tally);
      assert.equal(r.status, status, `${what}: ${r.body.slice(0, 300)}`);
      if (text) assert.ok(r.body.includes(text), `${what}: "${text}" not in ${r.body.slice(0, 300)}`);
    }
    // absolute-form: the target's authority wins over Host (RFC 9112 §3.2.2)
    const absolute: Array<[string, string, string, number, string?]> = [
      ['service target, management Host', 'http://v1.api.localhost/', 'localhost', 200, 'api:v1'],
      ['management target, service Host', 'http://localhost/health', 'v1.api.localhost', 200, '"status":"ok"'],
      ['https scheme', 'https://v1.api.localhost/', 'localhost', 200, 'api:v1'],
      ['uppercase scheme and host', 'HTTP://V1.API.LOCALHOST/', 'localhost', 200, 'api:v1'],
      ['IPv6 target', 'http://[::1]:1/health', 'v1.api.localhost', 200, '"status":"ok"'],
      ['target with userinfo', 'http://user@v1.api.localhost/', 'localhost', 400, 'invalid request target'],
      ['target with an empty authority', 'http:///health', 'v1.api.localhost', 400, 'invalid request target'],
      ['another scheme', 'ftp://v1.api.localhost/', 'localhost', 400, 'invalid request target'],
      ['target with a hostile instance label', 'http://..%2F..%2Fx.dyn.localhost/', 'localhost', 404],
      ['target with a 5 KB label', `http://${'a'.repeat(5000)}.dyn.localhost/`, 'localhost', 404, 'TEN_ERR_ROUTE_UNKNOWN_INSTANCE'],
      ['a 10 KB target: over max_uri_length', `http://${long}.dyn.localhost/`, 'localhost', 414, 'TEN_ERR_HTTP_URI_TOO_LONG'],
    ];
    for (const [what, target, host, status, text] of absolute) {
      const r = await exchange(head([`Host: ${host}`], target), `absolute-form, ${what}`, tally);
      assert.equal(r.status, status, `absolute-form, ${what}: ${r.body.slice(0, 300)}`);
      if (text) assert.ok(r.body.includes(text), `absolute-form, ${what}: "${text}" not in ${r.body.slice(0, 300)}`);
    }
    tally.print(t, 'Host shapes');
    await w.assertIntact('Host shapes');
  });

  test('hostile ids as the instance label ({id}.api / {id}.dyn, spawn_on_request): answered 4xx, nothing created', { timeout: 60_000 }, async (t) => {
    const tally = new Tally();
    for (const id of HOSTILE_IDS) {
      for (const service of ['api', 'dyn']) {
        const what = `Host: ${JSON.stringify(id)}.${service}.localhost`;
        const r = await exchange(head([`Host: ${id}.${service}.localhost`], '/'), what, tally);
        // a CR LF in the id ends the Host line early: what is left of it names the management host
        if (!/[\r\n]/.test(id)) assert.ok(r.status! >= 400, `${what}: ${r.status} ${r.body.slice(0, 200)}`);
      }
    }
    // HTTP trims a field value's leading SP/HTAB (RFC 9110 §5.5): "\t0" is the valid label "0" there
    const hostileLabel = hostileIdArb.filter((id) => !isDnsLabel(id.replace(/^[ \t]+/, '').toLowerCase()));
    await check(fc.asyncProperty(hostileLabel, fc.constantFrom('api', 'dyn'), async (id, service) => {
      const r = await exchange(head([`Host: ${id}.${service}.localhost`], '/'), `Host: ${JSON.stringify(id)}.${service}.localhost`, tally);
      if (!/[\r\n]/.test(id)) assert.ok(r.status! >= 400, `${JSON.stringify(id)}.${service}: ${r.status}`);
    }), 400);
    tally.print(t, 'hostile ids in Host headers');
    await w.assertIntact('hostile ids in Host headers');
  });

  test('random Host headers (letters, dots, colons, brackets, %, /, @, controls, unicode, long): always answered, never 5xx, nothing created', { timeout: 60_000 }, async (t) => {
    const tally = new Tally();
    const unit = fc.constantFrom(...'aAzZ09-._~:[]%/@!$&\'()*+,;= \t\u00e9\u0430\u200b\u00ff\u0001\u007f'.split(''), '..', '::', '[::1]', 'localhost', 'api', 'dyn', 'v1');
    const host = fc.tuple(fc.string({ unit, maxLength: 40 }), fc.constantFrom('', '.api.localhost', '.localhost', '.dyn.localhost', ':80', '.', '..'), fc.nat({ max: 3 }))
      .map(([prefix, suffix, repeat]) => `${prefix.repeat(repeat === 3 ? 200 : 1)}${suffix}`)
      // not the balanced dyn route (503 with no instance, by design) nor a valid id on it (spawn_on_request creates it)
      .filter((h) => norm(h.trim()) !== 'dyn.localhost' && !(norm(h.trim()).endsWith('.dyn.localhost') && isDnsLabel(norm(h.trim()).slice(0, -'.dyn.localhost'.length))));
    await check(fc.asyncProperty(host, fc.boolean(), async (h, twice) => {
      const lines = twice ? [`Host: ${h}`, `Host: ${h}`] : [`Host: ${h}`];
      const r = await exchange(head(lines), `${twice ? 'twice ' : ''}Host: ${JSON.stringify(h).slice(0, 200)}`, tally);
      if (twice && !/[\r\n]/.test(h)) assert.equal(r.status, 400, `two Host lines: ${r.body.slice(0, 200)}`);
    }), 600);
    tally.print(t, 'random Host headers');
    await w.assertIntact('random Host headers');
  });
});
