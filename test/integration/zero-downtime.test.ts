// Acceptance (issue 4): under continuous load (≥ 200 req/s from a load generator on loopback for
// the whole sequence) deploy v2 → rollout 5/25/50/100 → route back to v1 → rolling deploy of a
// 3-instance service → stop the old instances: zero failed requests, printed by this test.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';
import { cleanup, fixtureService, sleep, startTen, waitFor, type Ten } from './harness.ts';

after(cleanup);

interface View { key: string; id: string; state: string; weight: number; health: string }
interface Op { id: number; status: string; steps: Array<{ message: string }>; error: { code: string } | null }

const list = async (ten: Ten, service: string): Promise<View[]> =>
  (await ten.api('GET', `/api/instances?service=${service}`)).json().instances;
const weights = async (ten: Ten, service: string) => Object.fromEntries((await list(ten, service)).map((i) => [i.id, i.weight]));

/** Follow an operation until it is no longer running (bounded). */
async function follow(ten: Ten, accepted: { status: number; body: string; json(): any }, ms = 30_000): Promise<Op> {
  assert.equal(accepted.status, 202, accepted.body);
  const id = accepted.json().operation.id;
  return waitFor(`operation ${id}`, async () => {
    const op: Op = (await ten.api('GET', `/api/workflows/operations/${id}`)).json();
    return op.status === 'running' ? undefined : op;
  }, ms);
}

/**
 * The load generator: `loops` keep-alive GET loops on loopback spread over `hosts`. Every response
 * status and every socket error is recorded. Stops on stop() or at `limitMs` at the latest.
 */
function load(port: number, hosts: string[], loops: number, limitMs: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops });
  const statuses = new Map<number, number>();
  const byInstance = new Map<string, number>();
  const errors: string[] = [];
  const failures: string[] = [];
  let requests = 0;
  let stopped = false;
  const t0 = performance.now();
  const deadline = Date.now() + limitMs;
  const once = (host: string) => new Promise<void>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', agent, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        requests += 1;
        const status = res.statusCode!;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const body = Buffer.concat(chunks).toString();
        if (status === 200) {
          const inst = (JSON.parse(body) as { instance: string }).instance;
          byInstance.set(inst, (byInstance.get(inst) ?? 0) + 1);
        } else if (failures.length < 20) failures.push(`${host} ${status} ${body}`);
        resolve();
      });
      res.on('error', (err) => { requests += 1; errors.push(`${host}: ${err.message}`); resolve(); });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (err) => { requests += 1; errors.push(`${host}: ${err.message}`); resolve(); });
    req.end();
  });
  const loop = async (host: string) => {
    while (!stopped && Date.now() < deadline) await once(host);
  };
  const running = Promise.all(Array.from({ length: loops }, (_, k) => loop(hosts[k % hosts.length])));
  return {
    statuses, byInstance, errors, failures,
    get requests() { return requests; },
    async stop() {
      stopped = true;
      await running;
      const seconds = (performance.now() - t0) / 1000;
      agent.destroy();
      return { seconds, rate: requests / seconds };
    },
  };
}

test('deploy → rollout 5/25/50/100 → route back → rolling deploy → stop old: zero failed requests under load', { timeout: 120_000 }, async () => {
  const ten = await startTen(`[settings]
drain_timeout = 5

${fixtureService('api')}
${fixtureService('web')}
[instances]
api = ["v1"]
web = ["w1", "w2", "w3"]
`);
  await waitFor('api:v1, web:w1..w3 running', async () => {
    const all = [...await list(ten, 'api'), ...await list(ten, 'web')];
    return all.length === 4 && all.every((i) => i.state === 'running');
  }, 20_000);

  const gen = load(ten.port, ['api.localhost', 'web.localhost'], 8, 90_000);
  const log: string[] = [];
  const mark = (what: string) => log.push(`${gen.requests} requests: ${what}`);
  let rate = 0;
  try {
    await sleep(500);
    mark('load running');

    // 1. deploy v2 at weight 0
    const dep = await follow(ten, await ten.api('POST', '/api/workflows/deploy', { service: 'api', version: 'v2', weight: 0, timeout: 20 }));
    assert.equal(dep.status, 'succeeded', JSON.stringify(dep));
    assert.deepEqual(await weights(ten, 'api'), { v1: 100, v2: 0 });
    mark('deployed api:v2 at weight 0');

    // 2. automated canary 5 → 25 → 50 → 100, one second per step
    const roll = await follow(ten, await ten.api('POST', '/api/workflows/rollout', { service: 'api', to: 'v2', steps: [5, 25, 50, 100], interval: 1 }));
    assert.equal(roll.status, 'succeeded', JSON.stringify(roll));
    assert.deepEqual(await weights(ten, 'api'), { v1: 0, v2: 100 });
    mark('rolled out api:v2 to 100%');
    await sleep(300);

    // 3. route back to v1 in one step
    const back = await ten.api('POST', '/api/workflows/route', { service: 'api', from: 'v2', to: 'v1' });
    assert.equal(back.status, 200, back.body);
    assert.deepEqual(back.json().weights, { v1: 100, v2: 0 });
    mark('routed api back to v1');
    await sleep(300);

    // 4. rolling deploy of web, one instance at a time
    const rolling = await follow(ten, await ten.api('POST', '/api/workflows/deploy', { service: 'web', version: 'n', strategy: 'rolling', batch: 1, timeout: 20 }), 60_000);
    assert.equal(rolling.status, 'succeeded', JSON.stringify(rolling));
    const web = await list(ten, 'web');
    assert.deepEqual(web.map((i) => [i.id, i.weight, i.state]).sort(), [['n-1', 100, 'running'], ['n-2', 100, 'running'], ['n-3', 100, 'running']]);
    mark('rolled web to n-1, n-2, n-3');
    await sleep(300);

    // 5. stop the old api instance (weight 0 since the route back)
    const del = await ten.api('DELETE', '/api/instances/api/v2');
    assert.equal(del.status, 200, del.body);
    assert.deepEqual(await weights(ten, 'api'), { v1: 100 });
    mark('stopped api:v2');
    await sleep(500);
  } finally {
    const s = await gen.stop();
    rate = s.rate;
    const seconds = s.seconds;
    const failed = gen.requests - (gen.statuses.get(200) ?? 0);
    // the acceptance output
    console.log(`zero-downtime: requests ${gen.requests}, rate ${rate.toFixed(0)} req/s, failed ${failed} (${seconds.toFixed(1)} s; ` +
      `statuses ${JSON.stringify(Object.fromEntries(gen.statuses))}, socket errors ${gen.errors.length}; ` +
      `served by ${JSON.stringify(Object.fromEntries([...gen.byInstance].sort()))})`);
    for (const l of log) console.log(`  ${l}`);
  }

  const { requests, statuses, errors, failures, byInstance } = gen;
  assert.deepEqual(errors, [], 'socket errors');
  assert.deepEqual(failures, [], 'non-200 responses');
  assert.equal(statuses.get(200), requests, `non-200 statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok(rate >= 200, `load generator reached only ${rate.toFixed(0)} req/s over the sequence (at least 200 wanted)`);
  // every version really took traffic during the sequence
  for (const inst of ['api:v1', 'api:v2', 'web:w1', 'web:w2', 'web:w3', 'web:n-1', 'web:n-2', 'web:n-3']) {
    assert.ok((byInstance.get(inst) ?? 0) > 0, `${inst} answered no request`);
  }
});
