// Failed-auth throttling on a real ten serve (docs/access.md#throttling), with a hostile client
// that sends from several loopback addresses (127.0.0.0/8 all reach lo on Linux, so each
// `localAddress` is another client): after auth_fail_limit failures an address gets 429 with
// Retry-After and a code, even with the right token; another address is not affected; the right
// token works again after the window; the table of addresses is bounded (the oldest goes).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';
import { cleanup, startTen, waitFor } from './harness.ts';

interface Answer { status: number; retryAfter?: string; code?: string }

/** GET /api/instances from `from` (a loopback address) with `token`, on a connection of its own. */
function from(port: number, localAddress: string, token: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, localAddress, path: '/api/instances', agent: false, headers: { host: 'localhost', authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        let code: string | undefined;
        try { code = JSON.parse(body).code; } catch { /* a list */ }
        resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], code });
      });
    });
    req.setTimeout(15_000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
  });
}

const WRONG = `${'0'.repeat(12)}.${'0'.repeat(64)}`;
after(cleanup);

test('429 with Retry-After per address, never global, and a bounded table', async () => {
  // a window long enough that nothing below outlives it: what frees an address here is the bound
  const ten = await startTen('[settings]\nauth_fail_limit = 5\nauth_fail_window = 600\nauth_fail_clients = 50\n');
  const A = '127.0.0.2';
  const B = '127.0.0.1';
  // the hostile client: 200 wrong tokens from A
  const answers: Answer[] = [];
  for (let i = 0; i < 200; i++) answers.push(await from(ten.port, A, WRONG));
  const counts = { 401: answers.filter((a) => a.status === 401).length, 429: answers.filter((a) => a.status === 429).length };
  console.log(`200 wrong tokens from ${A}: ${JSON.stringify(counts)}`);
  assert.deepEqual(counts, { 401: 5, 429: 195 });
  // before the token is even checked: the right one gets 429 too
  const right = await from(ten.port, A, ten.token);
  assert.equal(right.status, 429);
  assert.equal(right.code, 'TEN_ERR_API_THROTTLED');
  assert.ok(Number(right.retryAfter) >= 1 && Number(right.retryAfter) <= 600, `Retry-After ${right.retryAfter}`);
  // another address is not affected
  assert.equal((await from(ten.port, B, ten.token)).status, 200);
  // the bound: 60 more addresses fail once each; the table keeps 50, so A (the oldest) is gone
  for (let i = 1; i <= 60; i++) assert.equal((await from(ten.port, `127.0.1.${i}`, WRONG)).status, 401);
  assert.equal((await from(ten.port, A, ten.token)).status, 200, 'A was evicted from the full table: its token is checked again');
  assert.equal(ten.output().match(/failed authentications from 127\.0\.0\.2: throttled/g)?.length, 1, 'one log line for the 195 refusals, not one each');
});

test('the right token works again once the window is over', async () => {
  const ten = await startTen('[settings]\nauth_fail_limit = 3\nauth_fail_window = 2\n');
  const A = '127.0.0.3';
  // a window that ended before the third failure (a slow machine) starts a new one: fail until throttled
  await waitFor('A throttled', async () => (await from(ten.port, A, WRONG)).status === 429, 30_000);
  assert.equal((await from(ten.port, A, ten.token)).status, 429);
  await waitFor('A free again after auth_fail_window', async () => (await from(ten.port, A, ten.token)).status === 200, 20_000);
});
