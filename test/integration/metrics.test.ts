// The prometheus-exporter: GET /metrics on the management host, behind the token; counters move by
// exactly the requests sent; instance gauges tell the truth; a removed instance's series go away.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanup, fixtureService, startTen, waitFor } from './harness.ts';

after(cleanup);

/** The value of the one sample `name{labels}` in the exposition text (labels in any order). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.keys(labels).length === Object.keys(got).length && Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test('57 × 200 and 13 × 503 to api:v1 move the counters by exactly that; gauges and removal', async () => {
  const ten = await startTen(`[settings]\nhealth_interval = 60\n${fixtureService('api')}\n[instances]\napi = ["v1", "v2"]\n`);
  await waitFor('both running', async () => {
    const l = (await ten.api('GET', '/api/instances')).json().instances as Array<{ state: string }>;
    return l.length === 2 && l.every((i) => i.state === 'running');
  });
  assert.equal((await ten.get('localhost', '/metrics')).status, 401, 'behind the token');
  for (let i = 0; i < 57; i++) assert.equal((await ten.get('v1.api.localhost', '/')).status, 200);
  assert.equal((await ten.get('v1.api.localhost', '/sick')).status, 200); // its /health answers 503 from now on
  for (let i = 0; i < 13; i++) assert.equal((await ten.get('v1.api.localhost', '/health')).status, 503);
  assert.equal((await ten.get('nope.localhost', '/')).status, 404);
  const r = await ten.api('GET', '/metrics');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const text = r.body;
  const v1 = { service: 'api', instance: 'v1' };
  assert.equal(sample(text, 'tenement_http_requests_total', { ...v1, code: '200' }), 58, '57 + the /sick call');
  assert.equal(sample(text, 'tenement_http_requests_total', { ...v1, code: '503' }), 13);
  assert.equal(sample(text, 'tenement_http_request_duration_seconds_count', v1), 71);
  assert.equal(sample(text, 'tenement_http_requests_total', { service: '', instance: '', code: '404' }), 1, 'unknown hosts: no series of their own');
  assert.equal(sample(text, 'tenement_instance_state', { ...v1, state: 'running' }), 1);
  assert.equal(sample(text, 'tenement_instance_state', { ...v1, state: 'failed' }), 0);
  assert.equal(sample(text, 'tenement_instance_weight', v1), 100);
  assert.equal(sample(text, 'tenement_instance_restarts_total', v1), 0);
  assert.equal(sample(text, 'tenement_http_requests_in_flight', v1), 0);
  assert.ok(sample(text, 'process_cpu_user_seconds_total', {}) === undefined || /process_cpu_user_seconds_total \d/.test(text), 'Node process metrics');
  assert.match(text, /^# TYPE tenement_http_requests_total counter$/m);
  assert.match(text, /^# TYPE tenement_http_request_duration_seconds histogram$/m);
  // a removed instance's series go
  assert.equal((await ten.api('DELETE', '/api/instances/api/v1')).status, 200);
  const after = (await ten.api('GET', '/metrics')).body;
  assert.doesNotMatch(after, /instance="v1"/);
  assert.equal(sample(after, 'tenement_instance_weight', { service: 'api', instance: 'v2' }), 100);
});
