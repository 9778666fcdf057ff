// Acceptance (issue 3): the idle-scaler stops idle instances and wakes them on the next request.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { cleanup, fixtureService, sleep, startTen, waitFor, type Ten } from './harness.ts';

after(cleanup);

interface View { key: string; state: string; pid: number | null; weight: number; suspended: string | null; restarts: number }

const view = async (ten: Ten, key: string): Promise<View> => (await ten.api('GET', `/api/instances/${key.replace(':', '/')}`)).json();
const list = async (ten: Ten): Promise<View[]> => (await ten.api('GET', '/api/instances')).json().instances;
const inState = (ten: Ten, key: string, state: string, ms = 10_000) =>
  waitFor(`${key} ${state}`, async () => { const v = await view(ten, key); return v.state === state ? v : undefined; }, ms);

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

const SETTINGS = `[settings]\nhealth_interval = 0.3\nbackoff_base = 0.3\n\n[plugins.scaler]\nuse = "idle-scaler"\ncheck_interval = 0.1\nwait_timeout = 5\n\n`;

describe('scale to zero', { concurrency: 3 }, () => {
  test('idle_timeout = 2: the process is stopped, ps shows idle with its weight, a request wakes it', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api', 'idle_timeout = 2\nweight = 40')}\n[instances]\napi = ["v1"]\n`);
    const first = await inState(ten, 'api:v1', 'running');
    // health probes run every 0.3 s meanwhile: they are not traffic and do not keep it awake
    const idle = await inState(ten, 'api:v1', 'idle', 6000);
    assert.equal(idle.pid, null);
    assert.equal(idle.weight, 40);
    assert.equal(alive(first.pid!), false, 'the app process is gone');
    const ps = await ten.cli('ps');
    assert.match(ps.stdout, /api:v1\s+-\s+-\s+\S+\s+40\s+idle/);
    await sleep(700);
    assert.equal((await view(ten, 'api:v1')).state, 'idle', 'probes do not wake a sleeping instance');
    // both routes wake it: the direct one...
    const r = await ten.get('v1.api.localhost', '/');
    assert.equal(r.status, 200, r.body);
    assert.notEqual(r.json().pid, first.pid);
    // ...and the balanced one, once it is asleep again
    await inState(ten, 'api:v1', 'idle', 6000);
    const b = await ten.get('api.localhost', '/');
    assert.equal(b.status, 200, b.body);
    assert.equal((await view(ten, 'api:v1')).weight, 40, 'the weight survives sleep and wake');
  });

  test('100 concurrent requests to a sleeping instance: all 200 from one new process', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api', 'idle_timeout = 60')}\n[instances]\napi = ["v1"]\n`);
    const before = await inState(ten, 'api:v1', 'running');
    assert.equal((await ten.api('POST', '/api/idle-scaler/api/v1/sleep')).status, 200);
    assert.equal((await view(ten, 'api:v1')).state, 'idle');
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      ten.get(i % 2 ? 'v1.api.localhost' : 'api.localhost', `/n${i}`)));
    assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
    const pids = new Set(replies.map((r) => r.json().pid));
    assert.equal(pids.size, 1, `answered by ${pids.size} processes`);
    assert.ok(!pids.has(before.pid), 'a new process');
    assert.equal((await view(ten, 'api:v1')).restarts, 0, 'a wake is not a restart');
  });

  test('an app that fails to start: 503 with a code within the budget, the next request tries again', async () => {
    const flag = join(process.env.TMPDIR ?? '/tmp', `ten-fail-${process.pid}-${Date.now()}`);
    const ten = await startTen(`${SETTINGS}${fixtureService('api', 'idle_timeout = 60')}FAIL_IF_EXISTS = "${flag}"\n\n[instances]\napi = ["v1"]\n`);
    try {
      await inState(ten, 'api:v1', 'running');
      await ten.api('POST', '/api/idle-scaler/api/v1/sleep');
      writeFileSync(flag, 'fail');
      const t0 = Date.now();
      const replies = await Promise.all(Array.from({ length: 5 }, () => ten.get('v1.api.localhost', '/')));
      for (const r of replies) {
        assert.equal(r.status, 503, r.body);
        assert.equal(r.json().code, 'TEN_ERR_SCALER_WAKE_FAILED');
        assert.equal(r.headers['retry-after'], '1');
      }
      assert.ok(Date.now() - t0 < 5000, 'answered within the wait budget');
      const v = await inState(ten, 'api:v1', 'idle');
      assert.equal(v.pid, null, 'no process left behind');
      assert.match((await ten.cli('ps')).stdout, /api:v1\s+-\s+-\s+\S+\s+100\s+idle/);
      rmSync(flag);
      const ok = await ten.get('v1.api.localhost', '/');
      assert.equal(ok.status, 200, ok.body);
      assert.equal((await view(ten, 'api:v1')).state, 'running');
    } finally {
      rmSync(flag, { force: true });
    }
  });

  test('an open WebSocket or a streaming response keeps the instance awake past idle_timeout', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api', 'idle_timeout = 1')}\n[instances]\napi = ["ws", "stream"]\n`);
    const ws0 = await inState(ten, 'api:ws', 'running');
    const st0 = await inState(ten, 'api:stream', 'running');
    const sock = new WebSocket(`ws://127.0.0.1:${ten.port}/ws`, { headers: { host: 'ws.api.localhost' } });
    await new Promise((resolve, reject) => { sock.once('message', resolve); sock.once('error', reject); });
    const streaming = ten.get('stream.api.localhost', '/stream?ms=2500');
    await sleep(2000);
    assert.equal((await view(ten, 'api:ws')).pid, ws0.pid, 'websocket instance stayed up');
    assert.equal((await view(ten, 'api:stream')).pid, st0.pid, 'streaming instance stayed up');
    assert.equal((await streaming).status, 200);
    sock.close();
    // with nothing open any more, both go to sleep
    await Promise.all([inState(ten, 'api:ws', 'idle', 5000), inState(ten, 'api:stream', 'idle', 5000)]);
  });

  test('unknown ids are 404 without a process; spawn_on_request keeps max_instances live, putting the least recently active to sleep', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}\n${fixtureService('tenant', 'spawn_on_request = true\nmax_instances = 2')}`);
    const r = await ten.get('nobody.api.localhost', '/');
    assert.equal(r.status, 404);
    assert.equal(r.json().code, 'TEN_ERR_ROUTE_UNKNOWN_INSTANCE');
    assert.equal((await list(ten)).length, 0, 'no instance was created');
    const a = await ten.get('acme.tenant.localhost', '/');
    assert.equal(a.status, 200, a.body);
    assert.equal(a.json().instance, 'tenant:acme');
    assert.equal((await ten.get('globex.tenant.localhost', '/')).status, 200);
    // a third: acme, the least recently active of the two live ones, is put to sleep to make room
    const third = await ten.get('initech.tenant.localhost', '/');
    assert.equal(third.status, 200, third.body);
    const states = async () => Object.fromEntries((await list(ten)).map((i) => [i.key, i.state]));
    await waitFor('acme asleep', async () => (await states())['tenant:acme'] === 'idle', 10_000);
    assert.deepEqual(await states(), { 'tenant:acme': 'idle', 'tenant:globex': 'running', 'tenant:initech': 'running' });
    // ids are DNS labels: anything else is not created
    assert.equal((await ten.get('bad_id.tenant.localhost', '/')).status, 404);
  });

  test('kill -9, then one request to the direct route at once: 200 from the restarted process', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}\n[instances]\napi = ["v1"]\n`);
    const v = await inState(ten, 'api:v1', 'running');
    await ten.get('v1.api.localhost', '/'); // a warm keep-alive connection to the app, too
    process.kill(v.pid!, 'SIGKILL');
    const r = await ten.get('v1.api.localhost', '/');
    assert.equal(r.status, 200, r.body);
    assert.notEqual(r.json().pid, v.pid);
  });

  test('idle_action = "suspend": frozen in place, thawed by a request, stopped after suspend_timeout', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api', 'idle_timeout = 1\nidle_action = "suspend"\nsuspend_timeout = 2')}\n[instances]\napi = ["v1"]\n`);
    const up = await inState(ten, 'api:v1', 'running');
    // idle at once (no new traffic), `suspended` says "freezing" until the kernel confirms
    const frozen = await waitFor('frozen', async () => {
      const x = await view(ten, 'api:v1');
      return x.state === 'idle' && x.suspended !== 'freezing' ? x : undefined;
    }, 5000);
    assert.equal(frozen.pid, up.pid, 'the process is kept');
    assert.ok(['cgroup-freezer', 'sigstop'].includes(frozen.suspended!), `mechanism reported: ${frozen.suspended}`);
    await waitFor('the suspend log line', () => /"mechanism":"(cgroup-freezer|sigstop)".*instance suspended/.test(ten.output()), 2000);
    const r = await ten.get('v1.api.localhost', '/');
    assert.equal(r.status, 200);
    assert.equal(r.json().pid, up.pid, 'thawed, not restarted');
    // frozen again, then stopped for real after suspend_timeout
    await inState(ten, 'api:v1', 'idle', 5000);
    const stopped = await waitFor('stopped for real', async () => {
      const x = await view(ten, 'api:v1');
      return x.state === 'idle' && x.pid === null ? x : undefined;
    }, 8000);
    assert.equal(stopped.suspended, null);
    assert.equal(alive(up.pid!), false);
    assert.equal((await ten.get('api.localhost', '/')).status, 200, 'and woken by a cold start');
  });
});
