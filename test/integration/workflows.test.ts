// Acceptance (issue 4, server side): deploy-workflows against a real ten serve over its HTTP API —
// failed and timed-out deploys change nothing, automated rollback at the first bad step, header and
// cookie targeting, sticky A/B assignment that survives weight changes, shadow traffic, history,
// route refusals, busy services, abort, and a rollout that resumes after a restart of ten serve.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanup, fixtureService, sleep, startTen, waitFor, type Reply, type Ten } from './harness.ts';

after(cleanup);

interface View { key: string; id: string; state: string; weight: number; health: string; pid: number | null }
interface Op {
  id: number; kind: string; status: string; steps: Array<{ at: string; message: string }>;
  error: { code: string; message: string } | null;
}
interface HistoryEntry { id: number; at: string; service: string; kind: string; outcome: string; detail: string; data: Record<string, unknown> }

const SETTINGS = `[settings]\nhealth_interval = 0.3\nbackoff_base = 0.3\ndrain_timeout = 2\n\n`;

const list = async (ten: Ten, service: string): Promise<View[]> => {
  const r = await ten.api('GET', `/api/instances?service=${service}`);
  assert.equal(r.status, 200, r.body);
  return r.json().instances;
};
const weights = async (ten: Ten, service: string): Promise<Record<string, number>> =>
  Object.fromEntries((await list(ten, service)).map((i) => [i.id, i.weight]));
const allRunning = (ten: Ten, service: string, n: number) => waitFor(`${n} running ${service} instances`, async () => {
  const l = await list(ten, service);
  return l.length === n && l.every((i) => i.state === 'running' && i.health === 'healthy') ? l : undefined;
}, 20_000);
const getOp = async (ten: Ten, id: number): Promise<Op> => (await ten.api('GET', `/api/workflows/operations/${id}`)).json();
/** The operation a 202 answer started. */
function accepted(r: Reply): Op {
  assert.equal(r.status, 202, r.body);
  return r.json().operation;
}
/** Follow an operation until it is no longer running (bounded). */
const follow = (ten: Ten, id: number, ms = 30_000) => waitFor(`operation ${id} to finish`, async () => {
  const op = await getOp(ten, id);
  return op.status === 'running' ? undefined : op;
}, ms);
const history = async (ten: Ten, service: string): Promise<HistoryEntry[]> => {
  const r = await ten.api('GET', `/api/workflows/history?service=${service}`);
  assert.equal(r.status, 200, r.body);
  return r.json().entries;
};
const setWeight = async (ten: Ten, key: string, weight: number) => {
  const r = await ten.api('PUT', `/api/instances/${key.replace(':', '/')}/weight`, { weight });
  assert.equal(r.status, 200, r.body);
};

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** A unique flag-file path (removed in after()). */
const flags: string[] = [];
function flagPath(what: string): string {
  const f = join(tmpdir(), `ten-wf-${what}-${process.pid}-${Date.now()}-${flags.length}`);
  flags.push(f);
  return f;
}
after(() => { for (const f of flags) rmSync(f, { force: true }); });

/** Keep-alive GET loops on `host` until stop() (or `limitMs`); counts statuses. */
function load(port: number, host: string, loops: number, limitMs = 60_000) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops });
  const statuses = new Map<number, number>();
  let stopped = false;
  const deadline = Date.now() + limitMs;
  const once = () => new Promise<void>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', agent, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => { statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1); resolve(); });
      res.on('error', () => resolve());
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => { statuses.set(0, (statuses.get(0) ?? 0) + 1); resolve(); });
    req.end();
  });
  const running = Promise.all(Array.from({ length: loops }, async () => { while (!stopped && Date.now() < deadline) await once(); }));
  return { statuses, async stop() { stopped = true; await running; agent.destroy(); } };
}

/** Run `fn` over `items` with at most `n` at a time. */
async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) { const k = next++; out[k] = await fn(items[k]); }
  }));
  return out;
}

describe('deploy', () => {
  test('a v2 that exits at start: failed with TEN_ERR_WORKFLOW_UNHEALTHY, other weights unchanged, v2 gone', async () => {
    const flag = flagPath('exit');
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}FAIL_IF_EXISTS = "${flag}"\n\n[instances]\napi = ["v1", "v0"]\n`);
    await allRunning(ten, 'api', 2);
    await setWeight(ten, 'api:v0', 30);
    await setWeight(ten, 'api:v1', 70);
    const before = await weights(ten, 'api');
    writeFileSync(flag, 'fail'); // from now on a new process of this service exits with code 3
    const op = await follow(ten, accepted(await ten.api('POST', '/api/workflows/deploy', { service: 'api', version: 'v2', timeout: 20 })).id);
    assert.equal(op.status, 'failed', JSON.stringify(op));
    assert.equal(op.error?.code, 'TEN_ERR_WORKFLOW_UNHEALTHY');
    assert.match(op.error!.message, /api:v2 did not become healthy: exited with code 3/);
    assert.deepEqual(await weights(ten, 'api'), before, 'weights of the existing instances exactly unchanged');
    assert.deepEqual(before, { v0: 30, v1: 70 });
    assert.equal((await ten.api('GET', '/api/instances/api/v2')).status, 404, 'api:v2 is gone');
    // and stays gone: no restart of it is left scheduled
    await sleep(1000);
    assert.deepEqual((await list(ten, 'api')).map((i) => i.id).sort(), ['v0', 'v1']);
    const h = (await history(ten, 'api')).filter((e) => e.kind === 'deploy');
    assert.equal(h.length, 1);
    assert.equal(h[0].outcome, 'failed');
    assert.equal(h[0].data.code, 'TEN_ERR_WORKFLOW_UNHEALTHY');
  });

  test('a v2 that runs but fails its health check: failed with TEN_ERR_WORKFLOW_UNHEALTHY and its process is stopped', async () => {
    const flag = flagPath('sick');
    const ten = await startTen(`${SETTINGS}${fixtureService('api', 'startup_timeout = 2')}SICK_IF_EXISTS = "${flag}"\n\n[instances]\napi = ["v1"]\n`);
    await allRunning(ten, 'api', 1);
    await setWeight(ten, 'api:v1', 80);
    writeFileSync(flag, 'sick'); // a process started from now on answers 503 on /health
    const op0 = accepted(await ten.api('POST', '/api/workflows/deploy', { service: 'api', version: 'v2', weight: 50, timeout: 20 }));
    // catch the pid of the process that is started and never becomes healthy
    const pid = await waitFor('api:v2 has a process', async () => {
      const r = await ten.api('GET', '/api/instances/api/v2');
      return r.status === 200 ? r.json().pid as number | null : undefined;
    });
    assert.ok(alive(pid), 'the new process runs while it is being probed');
    const op = await follow(ten, op0.id);
    assert.equal(op.status, 'failed', JSON.stringify(op));
    assert.equal(op.error?.code, 'TEN_ERR_WORKFLOW_UNHEALTHY', JSON.stringify(op.error));
    assert.deepEqual(await weights(ten, 'api'), { v1: 80 }, 'v1 weight unchanged, api:v2 gone');
    assert.equal((await ten.api('GET', '/api/instances/api/v2')).status, 404);
    await waitFor(`pid ${pid} gone`, () => !alive(pid), 5000);
    assert.ok(op.steps.some((s) => /weights unchanged/.test(s.message)), JSON.stringify(op.steps));
  });

  test('a v2 that starts slower than the timeout: TEN_ERR_WORKFLOW_TIMEOUT, nothing left behind', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('slow')}START_DELAY_MS = "6000"\n`);
    const op0 = accepted(await ten.api('POST', '/api/workflows/deploy', { service: 'slow', version: 'v2', timeout: 1 }));
    const pid = await waitFor('slow:v2 has a process', async () => {
      const r = await ten.api('GET', '/api/instances/slow/v2');
      return r.status === 200 ? r.json().pid as number | null : undefined;
    });
    const t0 = Date.now();
    const op = await follow(ten, op0.id, 10_000);
    assert.ok(Date.now() - t0 < 4000, `the timeout of 1 s was not kept: finished after ${Date.now() - t0} ms`);
    assert.equal(op.status, 'failed', JSON.stringify(op));
    assert.equal(op.error?.code, 'TEN_ERR_WORKFLOW_TIMEOUT');
    assert.match(op.error!.message, /slow:v2 was not healthy within 1 s/);
    assert.deepEqual(await list(ten, 'slow'), []);
    await waitFor(`pid ${pid} gone`, () => !alive(pid), 5000);
  });

  test('a second deploy while one runs: 409 TEN_ERR_WORKFLOW_BUSY (so is a route); the first completes', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}START_DELAY_MS = "1500"\n\n[instances]\napi = ["v1"]\n`);
    await allRunning(ten, 'api', 1);
    const first = accepted(await ten.api('POST', '/api/workflows/deploy', { service: 'api', version: 'v2', weight: 0, timeout: 20 }));
    const second = await ten.api('POST', '/api/workflows/deploy', { service: 'api', version: 'v3', timeout: 20 });
    assert.equal(second.status, 409, second.body);
    assert.equal(second.json().code, 'TEN_ERR_WORKFLOW_BUSY');
    const route = await ten.api('POST', '/api/workflows/route', { service: 'api', from: 'v1', to: 'v2', force: true });
    assert.equal(route.status, 409, route.body);
    assert.equal(route.json().code, 'TEN_ERR_WORKFLOW_BUSY');
    const op = await follow(ten, first.id);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    assert.deepEqual(await weights(ten, 'api'), { v1: 100, v2: 0 });
    assert.equal((await ten.api('GET', '/api/instances/api/v3')).status, 404, 'the refused deploy started nothing');
  });
});

describe('route', () => {
  test('refuses an unhealthy target with 409 TEN_ERR_WORKFLOW_NOT_HEALTHY unless force', async () => {
    // restart = "never": an unhealthy instance stays unhealthy (no restart brings it back meanwhile)
    const ten = await startTen(`[settings]\nhealth_interval = 0.2\nunhealthy_threshold = 1\n\n${fixtureService('api', 'restart = "never"')}\n[instances]\napi = ["v1", "v2"]\n`);
    await allRunning(ten, 'api', 2);
    await setWeight(ten, 'api:v2', 0);
    assert.equal((await ten.get('v2.api.localhost', '/sick')).status, 200);
    await waitFor('api:v2 unhealthy', async () => (await list(ten, 'api')).find((i) => i.id === 'v2')?.state === 'unhealthy');
    const refused = await ten.api('POST', '/api/workflows/route', { service: 'api', from: 'v1', to: 'v2' });
    assert.equal(refused.status, 409, refused.body);
    assert.equal(refused.json().code, 'TEN_ERR_WORKFLOW_NOT_HEALTHY');
    assert.match(refused.json().message, /api:v2/);
    assert.deepEqual(await weights(ten, 'api'), { v1: 100, v2: 0 }, 'nothing changed');
    const forced = await ten.api('POST', '/api/workflows/route', { service: 'api', from: 'v1', to: 'v2', force: true });
    assert.equal(forced.status, 200, forced.body);
    assert.deepEqual(forced.json().weights, { v1: 0, v2: 100 });
    assert.deepEqual(await weights(ten, 'api'), { v1: 0, v2: 100 });
    const routes = (await history(ten, 'api')).filter((e) => e.kind === 'route');
    assert.equal(routes.length, 1, 'the refused route is not in the history');
    assert.match(routes[0].detail, /forced/);
  });
});

describe('rollout', () => {
  test('a canary with 10% 5xx: rolled back at the first step, weights restored, history says why', { timeout: 60_000 }, async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}ERROR_RATE_FOR = "v2:0.1"\n\n[instances]\napi = ["v1"]\n`);
    await allRunning(ten, 'api', 1);
    const dep = await follow(ten, accepted(await ten.api('POST', '/api/workflows/deploy', { service: 'api', version: 'v2', weight: 0 })).id);
    assert.equal(dep.status, 'succeeded', JSON.stringify(dep));
    const gen = load(ten.port, 'api.localhost', 8);
    let op: Op;
    try {
      await sleep(200);
      const started = accepted(await ten.api('POST', '/api/workflows/rollout', {
        service: 'api', to: 'v2', steps: [5, 25, 50, 100], interval: 3, max_error_rate: 0.01,
      }));
      op = await follow(ten, started.id, 30_000);
    } finally {
      await gen.stop();
    }
    assert.equal(op.status, 'rolled-back', JSON.stringify(op));
    assert.equal(op.error?.code, 'TEN_ERR_WORKFLOW_ROLLED_BACK');
    assert.deepEqual(await weights(ten, 'api'), { v1: 100, v2: 0 }, 'weights restored');
    assert.ok((gen.statuses.get(500) ?? 0) > 0, 'the canary did answer 500s');
    const h = await history(ten, 'api');
    const steps = h.filter((e) => e.kind === 'rollout-step');
    assert.equal(steps.length, 1, `rolled back at the first step: ${JSON.stringify(steps)}`);
    assert.match(steps[0].detail, /api:v2 at 5%/);
    const rb = h.filter((e) => e.kind === 'rollback');
    assert.equal(rb.length, 1);
    assert.equal(rb[0].outcome, 'rolled-back');
    assert.match(rb[0].detail, /canary 5xx rate \d+(\.\d)?% \(\d+\/\d+\) > max 1\.0%/);
    assert.deepEqual(rb[0].data.restored, { v1: 100 });
    assert.ok(h.findIndex((e) => e.kind === 'rollback') > h.findIndex((e) => e.kind === 'rollout-step'));
    // the status endpoint shows the same operation
    const status = await ten.api('GET', '/api/workflows/rollout/api');
    assert.equal(status.status, 200);
    assert.equal(status.json().id, op.id);
    assert.equal(status.json().status, 'rolled-back');
  });

  test('abort a slow rollout: status aborted, weights restored', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}\n[instances]\napi = ["v1", "v0"]\n`);
    await allRunning(ten, 'api', 2);
    await setWeight(ten, 'api:v0', 40);
    await setWeight(ten, 'api:v1', 60);
    assert.equal((await ten.api('POST', '/api/instances', { service: 'api', id: 'v2', weight: 0 })).status, 201);
    await allRunning(ten, 'api', 3);
    const op0 = accepted(await ten.api('POST', '/api/workflows/rollout', { service: 'api', to: 'v2', steps: [10, 50, 100], interval: 30 }));
    await waitFor('step 1 applied', async () => (await weights(ten, 'api')).v2 === 10);
    assert.deepEqual(await weights(ten, 'api'), { v0: 36, v1: 54, v2: 10 }, 'the stable instances share 90% in their old proportion');
    const t0 = Date.now();
    const r = await ten.api('POST', '/api/workflows/rollout/api/abort');
    assert.equal(r.status, 200, r.body);
    assert.ok(Date.now() - t0 < 5000, 'abort does not wait for the 30 s interval');
    assert.equal(r.json().status, 'aborted');
    assert.equal((await getOp(ten, op0.id)).status, 'aborted');
    assert.deepEqual(await weights(ten, 'api'), { v0: 40, v1: 60, v2: 0 }, 'weights restored');
    const again = await ten.api('POST', '/api/workflows/rollout/api/abort');
    assert.equal(again.status, 404, 'nothing left to abort');
    assert.equal(again.json().code, 'TEN_ERR_WORKFLOW_NOT_FOUND');
  });

  test('ten serve restarted during step 2: the rollout resumes and succeeds', { timeout: 90_000 }, async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}\n[instances]\napi = ["v1"]\n`);
    await allRunning(ten, 'api', 1);
    assert.equal((await ten.api('POST', '/api/instances', { service: 'api', id: 'v2', weight: 0 })).status, 201);
    await allRunning(ten, 'api', 2);
    const op0 = accepted(await ten.api('POST', '/api/workflows/rollout', { service: 'api', to: 'v2', steps: [10, 20, 30], interval: 2 }));
    await waitFor('step 2', async () => (await getOp(ten, op0.id)).steps.some((s) => s.message.startsWith('step 2/3')), 10_000);
    assert.equal(await ten.stop(), 0);
    const again = await ten.restart();
    const op = await follow(again, op0.id, 30_000);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    assert.ok(op.steps.some((s) => /resumed after a restart/.test(s.message)), JSON.stringify(op.steps));
    const resumedAt = op.steps.findIndex((s) => /resumed after a restart/.test(s.message));
    assert.ok(op.steps.slice(resumedAt).some((s) => s.message.startsWith('step 3/3')), 'continued to the last step');
    assert.deepEqual(await weights(again, 'api'), { v1: 70, v2: 30 });
    // and the service is not left busy
    const route = await again.api('POST', '/api/workflows/route', { service: 'api', from: 'v1', to: 'v2' });
    assert.equal(route.status, 200, route.body);
  });
});

describe('targeting and A/B', () => {
  test('X-Tenement-Instance and the tenement-instance cookie reach v2 at weight 0; an unknown id is balanced', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}\n[instances]\napi = ["v1", "v2"]\n`);
    await allRunning(ten, 'api', 2);
    await setWeight(ten, 'api:v2', 0);
    for (let i = 0; i < 20; i++) {
      const h = await ten.get('api.localhost', '/', { headers: { 'x-tenement-instance': 'v2' } });
      assert.equal(h.status, 200, h.body);
      assert.equal(h.json().instance, 'api:v2');
      const c = await ten.get('api.localhost', '/', { headers: { cookie: 'theme=dark; tenement-instance=v2' } });
      assert.equal(c.status, 200, c.body);
      assert.equal(c.json().instance, 'api:v2');
      const plain = await ten.get('api.localhost', '/');
      assert.equal(plain.json().instance, 'api:v1', 'without targeting weight 0 gets nothing');
      const unknown = await ten.get('api.localhost', '/', { headers: { 'x-tenement-instance': 'nope' } });
      assert.equal(unknown.status, 200, unknown.body);
      assert.equal(unknown.json().instance, 'api:v1', 'an unknown id falls back to balancing');
      const bad = await ten.get('api.localhost', '/', { headers: { 'x-tenement-instance': 'NOT_A_LABEL' } });
      assert.equal(bad.status, 200, bad.body);
      assert.equal(bad.json().instance, 'api:v1');
    }
  });

  test('sticky = "cookie": each user keeps its instance; 90/10 → 80/20 moves about 10% of users, all a → b', { timeout: 90_000 }, async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('ab', 'sticky = "cookie"')}\n[instances]\nab = ["a", "b"]\n`);
    await allRunning(ten, 'ab', 2);
    await setWeight(ten, 'ab:a', 90);
    await setWeight(ten, 'ab:b', 10);

    // a first visit without the cookie is given one, and keeps to one instance with it
    const first = await ten.get('ab.localhost', '/');
    assert.equal(first.status, 200);
    const setCookie = [first.headers['set-cookie'] ?? []].flat();
    const sticky = setCookie.map((c) => /^tenement-sticky=([^;]+)/.exec(c)?.[1]).find(Boolean);
    assert.ok(sticky, `a tenement-sticky cookie is set: ${JSON.stringify(setCookie)}`);
    for (let i = 0; i < 10; i++) {
      const r = await ten.get('ab.localhost', '/', { headers: { cookie: `tenement-sticky=${sticky}` } });
      assert.equal(r.json().instance, first.json().instance, 'the assigned cookie keeps the user on the first instance');
      assert.equal(r.headers['set-cookie'], undefined, 'no new cookie for a user who has one');
    }

    const users = Array.from({ length: 1000 }, (_, k) => `user-${k}-${Math.random().toString(36).slice(2, 10)}`);
    const ask = (u: string) => ten.get('ab.localhost', '/', { headers: { cookie: `tenement-sticky=${u}` } }).then((r) => {
      assert.equal(r.status, 200, r.body);
      return r.json().instance as string;
    });
    const round = () => pool(users, 16, async (u) => {
      const [x, y] = [await ask(u), await ask(u)];
      assert.equal(x, y, `user ${u} was sent to ${x} and then ${y}`);
      return x;
    });
    const before = await round();
    const onB = before.filter((i) => i === 'ab:b').length;
    assert.ok(onB >= 50 && onB <= 150, `${onB} of 1000 users on b at weight 10 of 100`);

    await setWeight(ten, 'ab:a', 80);
    await setWeight(ten, 'ab:b', 20);
    const afterRound = await round();
    const moved = users.map((_, k) => [before[k], afterRound[k]] as const).filter(([x, y]) => x !== y);
    const share = moved.length / users.length;
    console.log(`sticky: ${onB} of 1000 users on b at 90/10; ${moved.length} moved at 80/20`);
    assert.ok(share >= 0.05 && share <= 0.15, `${moved.length} of 1000 users changed instance (about 100 expected)`);
    assert.deepEqual(moved.filter(([x]) => x !== 'ab:a'), [], 'only a → b moves');
    assert.ok(moved.every(([, y]) => y === 'ab:b'));
  });
});

describe('shadow', () => {
  test('mirrors to v2: clients always get the stable answer, mismatches are counted, large bodies are skipped', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}ERROR_RATE_FOR = "v2:1"\n\n[instances]\napi = ["v1", "v2"]\n\n` +
      `[plugins.workflows]\nuse = "deploy-workflows"\nshadow_body_limit = 16\n`);
    await allRunning(ten, 'api', 2);
    await setWeight(ten, 'api:v2', 0);
    assert.equal((await ten.get('v2.api.localhost', '/')).status, 500, 'v2 answers 500 on /');
    const started = await ten.api('POST', '/api/workflows/shadow', { service: 'api', to: 'v2' });
    assert.equal(started.status, 200, started.body);
    assert.equal(started.json().active, true);

    for (let i = 0; i < 40; i++) {
      const r = await ten.get('api.localhost', `/page${i}`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json().instance, 'api:v1');
    }
    const status = await waitFor('40 compared', async () => {
      const s = (await ten.api('GET', '/api/workflows/shadow/api')).json();
      return s.compared >= 40 ? s : undefined;
    });
    assert.equal(status.mirrored, 40);
    assert.equal(status.status_mismatches, 40, JSON.stringify(status));
    assert.equal(status.skipped, 0);

    // a small JSON body is mirrored intact; the client's own request still gets its body
    const small = JSON.stringify({ a: 1 });
    const r = await ten.get('api.localhost', '/echo', { method: 'POST', body: small, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json(), { instance: 'api:v1', length: small.length });
    const echoed = await waitFor('v2 got the mirrored body', async () => {
      const last = (await ten.get('v2.api.localhost', '/last-echo')).json().last;
      return last ?? undefined;
    });
    assert.deepEqual(echoed, { body: small, shadow: '1' });
    await waitFor('41 mirrored', async () => (await ten.api('GET', '/api/workflows/shadow/api')).json().mirrored === 41);

    // over shadow_body_limit (16 bytes): served, not mirrored, counted as skipped
    const big = JSON.stringify({ text: 'x'.repeat(100) });
    const rb = await ten.get('api.localhost', '/echo', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
    assert.equal(rb.status, 200, rb.body);
    assert.equal(rb.json().length, big.length);
    const s2 = (await ten.api('GET', '/api/workflows/shadow/api')).json();
    assert.equal(s2.skipped, 1, JSON.stringify(s2));
    assert.equal(s2.mirrored, 41);
    assert.deepEqual((await ten.get('v2.api.localhost', '/last-echo')).json().last, { body: small, shadow: '1' }, 'v2 never saw the large body');

    // stopping it ends mirroring
    const stopped = await ten.api('DELETE', '/api/workflows/shadow/api');
    assert.equal(stopped.status, 200, stopped.body);
    await ten.get('api.localhost', '/');
    assert.equal((await ten.api('GET', '/api/workflows/shadow/api')).json().mirrored, 41);
  });
});

describe('history', () => {
  test('deploy, route, weight, rollout-step and rollback entries, in order, with ISO times', async () => {
    const ten = await startTen(`${SETTINGS}${fixtureService('api')}\n${fixtureService('other')}\n[instances]\napi = ["v1"]\nother = ["x"]\n`);
    await allRunning(ten, 'api', 1);
    const t0 = Date.now();
    const dep = await follow(ten, accepted(await ten.api('POST', '/api/workflows/deploy', { service: 'api', version: 'v2', weight: 0 })).id);
    assert.equal(dep.status, 'succeeded', JSON.stringify(dep));
    assert.equal((await ten.api('POST', '/api/workflows/route', { service: 'api', from: 'v1', to: 'v2' })).status, 200);
    await setWeight(ten, 'api:v1', 10);
    await setWeight(ten, 'other:x', 50); // another service: not in api's history
    const roll = accepted(await ten.api('POST', '/api/workflows/rollout', { service: 'api', to: 'v1', steps: [50, 100], interval: 30 }));
    await waitFor('step 1', async () => (await weights(ten, 'api')).v1 === 50);
    assert.equal((await ten.api('POST', '/api/workflows/rollout/api/abort')).json().status, 'aborted');
    assert.equal((await getOp(ten, roll.id)).status, 'aborted');

    const h = await history(ten, 'api');
    assert.deepEqual(h.map((e) => e.kind), ['deploy', 'route', 'weight', 'rollout-step', 'rollback'], JSON.stringify(h, null, 1));
    for (const e of h) {
      assert.equal(e.service, 'api');
      assert.match(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(new Date(e.at).toISOString(), e.at);
      assert.ok(Date.parse(e.at) >= t0 - 1000 && Date.parse(e.at) <= Date.now() + 1000, `${e.at} is not now`);
    }
    for (let k = 1; k < h.length; k++) {
      assert.ok(h[k].id > h[k - 1].id && Date.parse(h[k].at) >= Date.parse(h[k - 1].at), 'in order');
    }
    assert.match(h[0].detail, /deployed api:v2 at weight 0/);
    assert.match(h[1].detail, /routed api from v1 to v2/);
    assert.match(h[2].detail, /api:v1 weight 0 → 10/);
    assert.match(h[3].detail, /api:v1 at 50%/);
    assert.equal(h[4].outcome, 'aborted');
    assert.match(h[4].detail, /aborted by the user/);
    // all services, and a limit
    const all = (await ten.api('GET', '/api/workflows/history')).json().entries as HistoryEntry[];
    assert.ok(all.some((e) => e.service === 'other' && e.kind === 'weight'));
    const last2 = (await ten.api('GET', '/api/workflows/history?service=api&limit=2')).json().entries as HistoryEntry[];
    assert.deepEqual(last2.map((e) => e.kind), ['rollout-step', 'rollback']);
  });
});
