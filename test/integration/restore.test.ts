// Acceptance: restarting ten serve restores instances and weights from the store; SIGTERM drains
// in-flight requests, stops every instance and exits 0.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { alive, allRunning, cleanup, fixtureService, startTen, waitFor } from './harness.ts';

after(cleanup);

test('SIGTERM drains and stops everything; the next ten serve restores instances and weights', async () => {
  const ten = await startTen(`${fixtureService('api')}\n[instances]\napi = ["prod"]\n`);
  for (const [id, weight] of [['blue', 30], ['green', 70]] as const) {
    assert.equal((await ten.api('POST', '/api/instances', { service: 'api', id, weight })).status, 201);
  }
  assert.equal((await ten.api('PUT', '/api/instances/api/prod/weight', { weight: 0 })).status, 200);
  const before = await allRunning(ten, 3);

  // a slow request in flight when SIGTERM arrives still completes
  const slow = ten.get('blue.api.localhost', '/slow?ms=600');
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  const code = ten.stop('SIGTERM');
  const r = await slow;
  assert.equal(r.status, 200, r.body);
  assert.equal(await code, 0);
  assert.ok(Date.now() - t0 < 10_000, 'shutdown is bounded');
  for (const i of before) assert.equal(alive(i.pid!), false, `${i.key} (pid ${i.pid}) still runs after shutdown`);

  const again = await ten.restart();
  const restored = await allRunning(again, 3);
  const weights = Object.fromEntries(restored.map((i) => [i.key, i.weight]));
  assert.deepEqual(weights, { 'api:prod': 0, 'api:blue': 30, 'api:green': 70 });
  for (const i of restored) assert.ok(!before.some((b) => b.pid === i.pid), 'new processes');
  // traffic follows the restored weights: prod (weight 0) gets none
  for (let n = 0; n < 40; n++) {
    const res = await again.get('api.localhost', '/');
    assert.equal(res.status, 200);
    assert.notEqual(res.json().instance, 'api:prod');
  }
  // a stopped instance is forgotten: it does not come back on the next start
  assert.equal((await again.cli('stop', 'api:blue')).code, 0);
  assert.equal(await again.stop(), 0);
  const third = await again.restart();
  const keys = (await allRunning(third, 2)).map((i) => i.key).sort();
  assert.deepEqual(keys, ['api:green', 'api:prod']);
});

test('kill -9 of ten serve, then a ten serve whose config dropped a service: what that service left running is ended at start, the rest adopted', async () => {
  const ten = await startTen(`${fixtureService('api')}\n${fixtureService('gone')}\n[instances]\napi = ["v1"]\ngone = ["g1"]\n`);
  const before = await allRunning(ten, 2);
  assert.equal(await ten.stop('SIGKILL'), null);
  for (const i of before) assert.ok(alive(i.pid!), `${i.key} runs on after ten serve was killed`);
  writeFileSync(ten.configPath, `${readFileSync(ten.configPath, 'utf8').split('[service.gone]')[0]}[instances]\napi = ["v1"]\n`);
  const again = await ten.restart();
  const gone = before.find((i) => i.key === 'gone:g1')!;
  await waitFor(`gone:g1 (pid ${gone.pid}) ended`, () => !alive(gone.pid!), 10_000);
  assert.match(again.output(), /ended 1 process\(es\) a previous ten serve left running that could not be adopted/);
  const [v1] = await allRunning(again, 1);
  assert.equal(v1.key, 'api:v1');
  assert.equal(v1.pid, before.find((i) => i.key === 'api:v1')!.pid, 'api:v1 adopted, not restarted');
});
