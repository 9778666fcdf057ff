// The reverse proxy end to end: WebSocket through both host forms, X-Forwarded-* and header
// pass-through, 502/503/504/404 with codes, restart policies, and health-driven ejection and
// restart. One `ten serve` with several services runs the whole file.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { cleanup, fixtureService, sleep, startTen, waitFor, type Reply, type Ten } from './harness.ts';

after(cleanup);

interface InstanceView { key: string; state: string; health: string; pid: number | null; weight: number; restarts: number; last_exit: { code: number | null; signal: string | null } | null }

const CONFIG = [
  '[settings]',
  'health_interval = 0.2',
  'unhealthy_threshold = 2',
  'backoff_base = 0.2',
  fixtureService('api'),
  fixtureService('slow', 'request_timeout = 0.5'),
  fixtureService('empty'),
  fixtureService('zero', 'weight = 0'),
  fixtureService('never', 'restart = "never"'),
  fixtureService('onfail', 'restart = "on-failure"'),
  fixtureService('always', 'restart = "always"'),
  fixtureService('hc'),
  '[instances]',
  'api = ["v1"]',
  'slow = ["s1"]',
  'zero = ["z1"]',
  'never = ["n1"]',
  'onfail = ["o1", "o2"]',
  'always = ["a1"]',
  'hc = ["h1", "h2"]',
].join('\n');

let ten: Ten;

async function inst(key: string): Promise<InstanceView> {
  const [service, id] = key.split(':');
  const r = await ten.api('GET', `/api/instances/${service}/${id}`);
  assert.equal(r.status, 200, r.body);
  return r.json<InstanceView>();
}

/** A proxy error: the status, JSON {code, message, hint}. */
function assertRouteError(r: Reply, status: number, code: string, what: string): void {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.body}`);
  assert.match(String(r.headers['content-type']), /application\/json/, what);
  const b = r.json<Record<string, unknown>>();
  assert.equal(b.code, code, `${what}: ${r.body}`);
  assert.equal(typeof b.message, 'string', what);
  assert.equal(typeof b.hint, 'string', what);
}

/** Open a WebSocket through the proxy with the given Host; resolves with the socket and its first message. */
function openWs(host: string): Promise<{ ws: WebSocket; greeting: { instance: string; forwardedFor: string | null } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${ten.port}/ws`, { headers: { host }, handshakeTimeout: 5000 });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`no greeting from ${host} in 5 s`)); }, 5000);
    ws.once('message', (m) => { clearTimeout(timer); resolve({ ws, greeting: JSON.parse(String(m)) }); });
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); reject(new Error(`${host}: HTTP ${res.statusCode}`)); });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

function nextMessage(ws: WebSocket, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message in ${ms} ms`)), ms);
    ws.once('message', (m) => { clearTimeout(timer); resolve(String(m)); });
  });
}

function closeWs(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => { ws.terminate(); resolve(); }, 2000);
    ws.once('close', () => { clearTimeout(timer); resolve(); });
    ws.close();
  });
}

before(async () => {
  ten = await startTen(CONFIG);
  const keys = ['api:v1', 'slow:s1', 'zero:z1', 'never:n1', 'onfail:o1', 'onfail:o2', 'always:a1', 'hc:h1', 'hc:h2'];
  await Promise.all(keys.map((k) => waitFor(`${k} running`, async () => (await inst(k)).state === 'running', 20_000)));
});

describe('WebSocket through the proxy', () => {
  for (const host of ['v1.api.localhost', 'api.localhost']) {
    test(`echo via ${host}`, async () => {
      const { ws, greeting } = await openWs(host);
      try {
        assert.equal(greeting.instance, 'api:v1');
        assert.equal(greeting.forwardedFor, '127.0.0.1');
        const reply = nextMessage(ws);
        ws.send('hi');
        assert.equal(await reply, 'echo:hi');
        const reply2 = nextMessage(ws);
        ws.send('second');
        assert.equal(await reply2, 'echo:second');
      } finally {
        await closeWs(ws);
      }
    });
  }

  test('an unknown host refuses the upgrade with 404', async () => {
    await assert.rejects(openWs('nope.localhost'), /HTTP 404/);
    await assert.rejects(openWs('v9.api.localhost'), /HTTP 404/);
    await assert.rejects(openWs('empty.localhost'), /HTTP 503/);
  });
});

describe('HTTP forwarding', () => {
  test('X-Forwarded-* are added; Host and custom headers reach the app unchanged', async () => {
    const custom = 'Hello, World; q=1  "quoted"';
    for (const host of ['v1.api.localhost', 'api.localhost', `v1.api.localhost:${ten.port}`]) {
      const r = await ten.get(host, '/headers?x=1', { headers: { 'x-custom-thing': custom, 'user-agent': 'bad-input-test/1' } });
      assert.equal(r.status, 200, r.body);
      const { instance, headers } = r.json<{ instance: string; headers: Record<string, string> }>();
      assert.equal(instance, 'api:v1');
      assert.equal(headers['x-forwarded-for'], '127.0.0.1', host);
      assert.equal(headers['x-forwarded-proto'], 'http', host);
      assert.equal(headers['x-forwarded-host'], host, host);
      assert.equal(headers.host, host, 'Host reaches the app unchanged');
      assert.equal(headers['x-custom-thing'], custom);
      assert.equal(headers['user-agent'], 'bad-input-test/1');
    }
  });

  test('method, path and query reach the app', async () => {
    const r = await ten.get('v1.api.localhost', '/some/path?a=1', { method: 'DELETE' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().method, 'DELETE');
    assert.equal(r.json().path, '/some/path');
  });
});

describe('proxy errors', () => {
  test('504 TEN_ERR_ROUTE_UPSTREAM_TIMEOUT after request_timeout (0.5 s)', async () => {
    const t0 = Date.now();
    const r = await ten.get('s1.slow.localhost', '/slow?ms=3000', { timeoutMs: 5000 });
    const took = Date.now() - t0;
    assertRouteError(r, 504, 'TEN_ERR_ROUTE_UPSTREAM_TIMEOUT', 'slow');
    assert.ok(took >= 450 && took < 2000, `504 after ${took} ms, expected ~500 ms`);
    // balanced host too, and a fast request on the same instance still works
    assertRouteError(await ten.get('slow.localhost', '/slow?ms=3000', { timeoutMs: 5000 }), 504, 'TEN_ERR_ROUTE_UPSTREAM_TIMEOUT', 'slow balanced');
    const ok = await ten.get('slow.localhost', '/slow?ms=50');
    assert.equal(ok.status, 200, ok.body);
  });

  test('502 TEN_ERR_ROUTE_UPSTREAM_FAILED when the app drops the connection (after a retry on a fresh connection); the next request works', async () => {
    const before = await ten.get('v1.api.localhost', '/');
    assert.equal(before.status, 200);
    assertRouteError(await ten.get('v1.api.localhost', '/reset'), 502, 'TEN_ERR_ROUTE_UPSTREAM_FAILED', 'reset direct');
    const next = await ten.get('v1.api.localhost', '/');
    assert.equal(next.status, 200, next.body);
    assert.equal(next.json().pid, before.json().pid, 'same process');
  });

  test('502 on the balanced host too, when every instance drops the connection (after the retry)', async () => {
    // hc has two running instances: the reset GET is retried on a fresh connection, then on the
    // other instance, which drops it as well
    assertRouteError(await ten.get('hc.localhost', '/reset'), 502, 'TEN_ERR_ROUTE_UPSTREAM_FAILED', 'reset balanced, 2 instances');
    assert.equal((await ten.get('hc.localhost', '/')).status, 200);
  });

  test('502 (not 503) on the balanced host of a single-instance service whose app drops the connection', async () => {
    // api has one running instance. The proxy retries the reset GET on "another" instance, finds
    // none, and must still report what happened (502 UPSTREAM_FAILED), not claim that no
    // instance of api is running (503 NO_INSTANCE: "spawn one or give one a weight above 0").
    assertRouteError(await ten.get('api.localhost', '/reset'), 502, 'TEN_ERR_ROUTE_UPSTREAM_FAILED', 'reset balanced, 1 instance');
    const again = await ten.get('api.localhost', '/');
    assert.equal(again.status, 200, again.body);
  });

  test('503 TEN_ERR_ROUTE_NO_INSTANCE with Retry-After: no instances, only weight 0', async () => {
    for (const host of ['empty.localhost', 'zero.localhost']) {
      const r = await ten.get(host, '/');
      assertRouteError(r, 503, 'TEN_ERR_ROUTE_NO_INSTANCE', host);
      assert.ok(r.headers['retry-after'], `${host}: no retry-after header`);
      assert.match(String(r.headers['retry-after']), /^\d+$/);
    }
    // a running instance kept out by weight 0 is named (the message said only "no running instance")
    assert.equal((await ten.get('empty.localhost', '/')).json().message, 'no running instance of empty');
    assert.equal((await ten.get('zero.localhost', '/')).json().message, 'no running instance of zero with a weight above 0 (zero:z1 runs at weight 0)');
    // the weight-0 instance is still reachable on its own host
    const direct = await ten.get('z1.zero.localhost', '/');
    assert.equal(direct.status, 200, direct.body);
    assert.equal(direct.json().instance, 'zero:z1');
  });

  test('404 with codes: unknown service host, unknown instance host', async () => {
    assertRouteError(await ten.get('nope.localhost', '/'), 404, 'TEN_ERR_ROUTE_UNKNOWN_SERVICE', 'unknown service');
    assertRouteError(await ten.get('v1.nope.localhost', '/'), 404, 'TEN_ERR_ROUTE_UNKNOWN_SERVICE', 'instance of unknown service');
    assertRouteError(await ten.get('v9.api.localhost', '/'), 404, 'TEN_ERR_ROUTE_UNKNOWN_INSTANCE', 'unknown instance');
    assertRouteError(await ten.get('a.b.api.localhost', '/'), 404, 'TEN_ERR_ROUTE_UNKNOWN_SERVICE', 'too deep');
  });
});

describe('restart policies', () => {
  /** Hit `path` on the instance, wait for `state`, then check nothing restarts it for 1.5 s. */
  async function exitAndStay(key: string, path: string, state: string, code: number): Promise<void> {
    const [service, id] = key.split(':');
    const r = await ten.get(`${id}.${service}.localhost`, path);
    assert.equal(r.status, 200, `${key} ${path}: ${r.body}`);
    await waitFor(`${key} ${state}`, async () => (await inst(key)).state === state, 5000);
    const at = await inst(key);
    assert.equal(at.pid, null);
    assert.equal(at.last_exit?.code, code);
    await sleep(1500);
    const later = await inst(key);
    assert.equal(later.state, state, `${key} left ${state}`);
    assert.equal(later.pid, null, `${key} was restarted`);
    assert.equal(later.restarts, 0);
  }

  /** Hit `path`, then wait for a new pid and state running. */
  async function exitAndRestart(key: string, path: string): Promise<void> {
    const [service, id] = key.split(':');
    const old = await inst(key);
    assert.equal(typeof old.pid, 'number');
    assert.equal((await ten.get(`${id}.${service}.localhost`, path)).status, 200);
    const now = await waitFor(`${key} restarted`, async () => {
      const i = await inst(key);
      return i.state === 'running' && i.pid !== null && i.pid !== old.pid ? i : undefined;
    }, 5000);
    assert.equal(now.restarts, old.restarts + 1);
    const r = await ten.get(`${id}.${service}.localhost`, '/');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().pid, now.pid);
  }

  test('never / on-failure / always', async () => {
    await Promise.all([
      exitAndStay('never:n1', '/exit', 'failed', 1), // restart = "never": exit 1 → failed, stays down
      exitAndStay('onfail:o1', '/exit0', 'stopped', 0), // restart = "on-failure": clean exit → stopped
      exitAndRestart('onfail:o2', '/exit'), // restart = "on-failure": exit 1 → restarted
      exitAndRestart('always:a1', '/exit0'), // restart = "always": even a clean exit → restarted
    ]);
    // a stopped / failed instance answers 503 on its own host, with a code
    for (const host of ['n1.never.localhost', 'o1.onfail.localhost']) {
      const r = await ten.get(host, '/');
      assertRouteError(r, 503, 'TEN_ERR_ROUTE_NO_INSTANCE', host);
      assert.ok(r.headers['retry-after'], `${host}: retry-after`);
    }
  });
});

describe('health checks', () => {
  test('a sick instance goes unhealthy, gets no balanced traffic, and is restarted', async () => {
    const h1 = await inst('hc:h1');
    const h2 = await inst('hc:h2');
    assert.equal(h1.state, 'running');
    assert.equal(h2.state, 'running');
    // both take balanced traffic before
    const seen = new Set<string>();
    await waitFor('both hc instances served', async () => {
      const r = await ten.get('hc.localhost', '/');
      assert.equal(r.status, 200, r.body);
      seen.add(r.json().instance);
      return seen.size === 2;
    }, 5000);

    assert.equal((await ten.get('h1.hc.localhost', '/sick')).status, 200);
    await waitFor('hc:h1 leaves running', async () => {
      const i = await inst('hc:h1');
      return i.state !== 'running' || i.pid !== h1.pid;
    }, 5000);

    // From now until it runs again with a new process, balanced traffic goes elsewhere.
    const answers: Array<{ instance: string; pid: number }> = [];
    /** Answers of batches that ended while h1 was still down: all of them must come from h2. */
    const whileDown: Array<{ instance: string; pid: number }> = [];
    let restarted: InstanceView | undefined;
    const deadline = Date.now() + 10_000;
    while (!restarted && Date.now() < deadline) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => ten.get('hc.localhost', '/')));
      for (const r of batch) assert.equal(r.status, 200, `balanced request failed while h1 was down: ${r.body}`);
      const bodies = batch.map((r) => r.json<{ instance: string; pid: number }>());
      answers.push(...bodies);
      const i = await inst('hc:h1');
      if (i.state === 'running' && i.pid !== null && i.pid !== h1.pid) restarted = i;
      else whileDown.push(...bodies);
    }
    assert.ok(restarted, 'hc:h1 was not restarted within 10 s');
    assert.match(ten.output(), /"instance":"hc:h1","from":"running","to":"unhealthy"/, 'h1 went through unhealthy');
    assert.deepEqual(answers.filter((a) => a.pid === h1.pid), [], 'the unhealthy process still got balanced traffic');
    assert.ok(whileDown.length > 0, 'no balanced request was sent while h1 was down');
    assert.deepEqual(whileDown.filter((a) => a.instance !== 'hc:h2'), [], 'h2 did not take all the traffic while h1 was down');
    assert.equal(restarted.health, 'healthy');
    assert.equal(restarted.restarts, 1);

    // the new process is healthy (not sick) and stays running through several probes
    await sleep(600);
    const after = await inst('hc:h1');
    assert.equal(after.state, 'running');
    assert.equal(after.health, 'healthy');
    assert.equal(after.pid, restarted.pid);
    const direct = await ten.get('h1.hc.localhost', '/health');
    assert.equal(direct.status, 200, direct.body);
    // and it takes balanced traffic again
    await waitFor('h1 back in balancing', async () => (await ten.get('hc.localhost', '/')).json().instance === 'hc:h1', 5000);
  });
});

describe('after all of it', () => {
  test('ten serve is still up', async () => {
    assert.equal((await ten.get('localhost', '/health')).status, 200);
    assert.equal(ten.child.exitCode, null);
  });
});
