// Acceptance: kill -9 of an app under a running request loop — the balancer stops sending to it
// at once, the instance is restarted with backoff, and `failed` is reached after max_restarts.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanup, fixtureService, sleep, startTen, waitFor, type Ten } from './harness.ts';

after(cleanup);

const SETTINGS = `[settings]
max_restarts = 3
restart_window = 60
backoff_base = 0.2
backoff_max = 5
health_interval = 30
`;

interface View { key: string; state: string; pid: number | null; restarts: number; last_exit: { signal: string | null } | null }

async function view(ten: Ten, key: string): Promise<View> {
  const r = await ten.api('GET', `/api/instances/${key.replace(':', '/')}`);
  assert.equal(r.status, 200, r.body);
  return r.json();
}

const running = (ten: Ten, key: string, notPid?: number | null) => waitFor(`${key} running`, async () => {
  const v = await view(ten, key);
  return v.state === 'running' && v.pid !== notPid ? v : undefined;
}, 15_000);

test('kill -9 under load: no traffic to the dead process, restart with backoff, then failed', async () => {
  const ten = await startTen(`${SETTINGS}${fixtureService('api')}\n[instances]\napi = ["v1", "v2"]\n`);
  const v1 = await running(ten, 'api:v1');
  await running(ten, 'api:v2');

  // a request loop on the balanced host, recording which process answered
  let stop = false;
  let killedAt = 0;
  // t = when the request was sent: a reply read after the kill may have been written before it
  const results: Array<{ t: number; status: number; pid?: number }> = [];
  const loop = async () => {
    while (!stop) {
      const t = Date.now();
      const r = await ten.get('api.localhost', '/');
      results.push({ t, status: r.status, pid: r.status === 200 ? r.json().pid : undefined });
    }
  };
  const loops = Promise.all([loop(), loop(), loop(), loop()]);
  await sleep(300);
  process.kill(v1.pid!, 'SIGKILL');
  killedAt = Date.now();
  const v1b = await running(ten, 'api:v1', v1.pid);
  await sleep(300);
  stop = true;
  await loops;

  const after = results.filter((r) => r.t > killedAt);
  assert.ok(results.length > 100, `request loop made ${results.length} requests`);
  assert.equal(after.filter((r) => r.pid === v1.pid).length, 0, 'a request reached the killed process after its exit');
  const failed = results.filter((r) => r.status !== 200);
  assert.ok(failed.length <= 1, `${failed.length} failed requests around the kill: ${JSON.stringify(failed)}`);
  assert.ok(results.some((r) => r.pid === v1b.pid), 'the restarted v1 receives traffic again');
  assert.equal(v1b.restarts, 1);
  assert.equal(v1b.last_exit?.signal, 'SIGKILL');

  // keep killing it: three restarts are allowed within the window, the fourth crash is final
  let pid = v1b.pid;
  for (let i = 2; i <= 3; i++) {
    process.kill(pid!, 'SIGKILL');
    const v = await running(ten, 'api:v1', pid);
    assert.equal(v.restarts, i);
    pid = v.pid;
  }
  process.kill(pid!, 'SIGKILL');
  const final = await waitFor('api:v1 failed', async () => ((await view(ten, 'api:v1')).state === 'failed' ? view(ten, 'api:v1') : undefined));
  assert.equal(final.pid, null);
  assert.equal(final.restarts, 3);
  await sleep(500);
  assert.equal((await view(ten, 'api:v1')).state, 'failed', 'a failed instance stays failed');
  // the other instance carried the traffic throughout and the server is fine
  const r = await ten.get('api.localhost', '/');
  assert.equal(r.status, 200);
  assert.equal(r.json().instance, 'api:v2');
  assert.match(ten.output(), /gave up after 3 restarts within 60 s/);
  // a manual restart brings a failed instance back
  assert.equal((await ten.cli('restart', 'api:v1')).code, 0);
  await running(ten, 'api:v1');
});

test('an app that exits at start is retried with backoff and ends failed; the server keeps serving', async () => {
  const ten = await startTen(`${SETTINGS}${fixtureService('bad')}FAIL_AT_START = "1"\n${fixtureService('ok')}\n[instances]\nbad = ["x"]\nok = ["y"]\n`);
  const t0 = Date.now();
  await waitFor('bad:x failed', async () => (await view(ten, 'bad:x')).state === 'failed', 15_000);
  // three backoff delays of 0.2, 0.4 and 0.8 s lie between the first start and the final failure
  assert.ok(Date.now() - t0 >= 1400, `failed after ${Date.now() - t0} ms: backoff not applied`);
  assert.equal((await view(ten, 'bad:x')).restarts, 3);
  assert.equal((await ten.get('y.ok.localhost', '/')).status, 200);
  const r = await ten.get('x.bad.localhost', '/');
  assert.equal(r.status, 503);
  assert.equal(r.json().code, 'TEN_ERR_ROUTE_NO_INSTANCE');
});
