// Targeting and sticky cookies against a real ten serve (deploy-workflows' targeting.ts): a
// malformed cookie is the client's problem, not a 500 (issue 8: `tenement-instance=%E0%A4%A` made
// the plugin throw URIError, answered 500 TEN_ERR_PLUGIN_FAILED and logged an error); split Cookie
// lines are read as one (RFC 9113 §8.2.3); the sticky assignment's Set-Cookie.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseSetCookie } from 'cookie';
import { cleanup, fixtureService, startTen, waitFor, type Ten } from './harness.ts';

after(cleanup);

const SETTINGS = `[settings]\nhealth_interval = 0.3\n\n`;
const MALFORMED = '%E0%A4%A'; // a truncated UTF-8 %-escape: decodeURIComponent throws URIError on it

interface View { id: string; state: string; health: string }

/** Log lines at error level (pino: level 50 and up) and any mention of the fault. */
function errorLines(out: string): string[] {
  return out.split('\n').filter((l) => /"level":(5\d|60)\b/.test(l) || /URIError|TEN_ERR_PLUGIN_FAILED/.test(l));
}

/** A GET with its head written as is (node:http would join Cookie lines into one); the app's
 *  JSON body. */
function rawGet(port: number, head: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(`GET / HTTP/1.1\r\n${head.join('\r\n')}\r\nConnection: close\r\n\r\n`));
    let text = '';
    sock.setEncoding('latin1');
    sock.on('data', (d) => { text += d; });
    sock.setTimeout(15_000, () => sock.destroy(new Error('no answer')));
    sock.once('error', reject);
    sock.once('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      // the fixture answers with Content-Length, so the body is not chunked
      resolve({ status, body });
    });
  });
}

describe('targeting cookies', () => {
  let ten: Ten;
  before(async () => {
    ten = await startTen(`${SETTINGS}${fixtureService('api')}\n${fixtureService('ab', 'sticky = "cookie"')}\n[instances]\napi = ["v1", "v2"]\nab = ["a", "b"]\n`);
    for (const service of ['api', 'ab']) {
      await waitFor(`2 healthy ${service} instances`, async () => {
        const l: View[] = (await ten.api('GET', `/api/instances?service=${service}`)).json().instances;
        return l.length === 2 && l.every((i) => i.state === 'running' && i.health === 'healthy');
      }, 20_000);
    }
    // v2 gets no balanced traffic: only targeting reaches it
    const r = await ten.api('PUT', '/api/instances/api/v2/weight', { weight: 0 });
    assert.equal(r.status, 200, r.body);
  });

  test('a malformed tenement-instance cookie is proxied normally (200 from the app) and logs no error', async () => {
    const logged = ten.output().length;
    for (const cookie of [`tenement-instance=${MALFORMED}`, `theme=dark; tenement-instance=${MALFORMED}`, `tenement-instance=${MALFORMED}; tenement-instance=v2`]) {
      const r = await ten.get('api.localhost', '/', { headers: { cookie } });
      assert.equal(r.status, 200, `${cookie}: ${r.body}`);
      assert.equal(r.json().instance, 'api:v1', `${cookie}: balanced (the first tenement-instance cookie names no instance)`);
    }
    assert.deepEqual(errorLines(ten.output().slice(logged)), []);
  });

  test('Cookie lines are joined with "; "; only the exact name counts; %-escapes are decoded', async () => {
    const instance = async (cookie: string) => {
      const r = await ten.get('api.localhost', '/', { headers: { cookie } });
      assert.equal(r.status, 200, r.body);
      return r.json().instance as string;
    };
    const split = await rawGet(ten.port, ['Host: api.localhost', 'Cookie: theme=dark', 'Cookie: tenement-instance=v2']);
    assert.equal(split.status, 200, split.body);
    assert.equal(JSON.parse(split.body).instance, 'api:v2', 'the cookie on a second Cookie field line');
    assert.equal(await instance('tenement-instance=%76%32'), 'api:v2', '"%76%32" is "v2"');
    assert.equal(await instance('  tenement-instance = v2 ; theme=dark'), 'api:v2', 'spaces around name and value');
    assert.equal(await instance('xtenement-instance=v2'), 'api:v1', 'another cookie whose name contains it');
    assert.equal(await instance('theme=tenement-instance=v2'), 'api:v1', 'the name inside another cookie\'s value');
  });

  test('sticky: a new user gets a Set-Cookie built by the cookie library; a malformed sticky cookie is a key like any other', async () => {
    const logged = ten.output().length;
    const first = await ten.get('ab.localhost', '/');
    assert.equal(first.status, 200, first.body);
    const lines = [first.headers['set-cookie'] ?? []].flat();
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const c = parseSetCookie(lines[0]);
    assert.equal(c.name, 'tenement-sticky');
    assert.match(c.value ?? '', /^[A-Za-z0-9_-]{16}$/, '12 random bytes, base64url');
    assert.deepEqual({ path: c.path, maxAge: c.maxAge, httpOnly: c.httpOnly, sameSite: c.sameSite }, { path: '/', maxAge: 31_536_000, httpOnly: true, sameSite: 'lax' });
    const again = await ten.get('ab.localhost', '/', { headers: { cookie: `tenement-sticky=${c.value}` } });
    assert.equal(again.json().instance, first.json().instance, 'the assigned cookie keeps the user on the first instance');

    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await ten.get('ab.localhost', '/', { headers: { cookie: `tenement-sticky=${MALFORMED}` } });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers['set-cookie'], undefined, 'a user who has a sticky cookie is not given another');
      seen.add(r.json().instance);
    }
    assert.equal(seen.size, 1, `one instance for one key: ${[...seen].join(', ')}`);
    assert.deepEqual(errorLines(ten.output().slice(logged)), []);
  });
});
