// The workflow commands of the `ten` CLI (deploy, route, rollout, shadow, history) against a real
// ten serve: they post the request, follow the operation, print each step and a summary, exit 1
// with the operation's error, and relay the server's refusals. What the server got is checked on
// the server (the operation's params, weights, history), not by capturing requests. The commands run
// in-process (runCli) with --server/--token; one server for the whole file, one service per topic
// so the tests do not disturb each other. Parsers, formatters and bad arguments: test/unit/cli-workflows.test.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { formatShadow } from '../../cli/table.ts';
import type { HistoryEntryView, OperationView, ShadowView } from '../../plugins/deploy-workflows/view.ts';
import { inProcessCli, type TenCli } from './cli-helper.ts';
import { cleanup, fixtureService, startTen, waitFor, type Ten } from './harness.ts';

after(cleanup);

interface View { key: string; id: string; state: string; health: string; weight: number; port: number | null; pid: number | null }

// api: deploys. bad: every process exits with code 3 at start. roll: a rolling deploy of two instances.
// rt: route (restart = "never", so an instance made sick stays unhealthy). web: rollouts. sh: shadow.
// hist: history.
const CONFIG = `[settings]
health_interval = 0.2
drain_timeout = 1
${fixtureService('api')}
${fixtureService('bad', 'restart = "never"')}FAIL_AT_START = "1"
${fixtureService('roll')}
${fixtureService('rt', 'restart = "never"')}
${fixtureService('web')}
${fixtureService('sh')}
${fixtureService('hist')}

[instances]
roll = ["a", "b"]
rt = ["blue", "green"]
web = ["v1"]
sh = ["v1"]
hist = ["blue", "green"]
`;

let ten: Ten;
let cli: TenCli;
before(async () => {
  ten = await startTen(CONFIG);
  cli = inProcessCli(ten);
  for (const key of ['roll:a', 'roll:b', 'rt:blue', 'rt:green', 'web:v1', 'sh:v1', 'hist:blue', 'hist:green']) await waitRunning(key);
});

const list = async (service: string): Promise<View[]> => (await ten.api('GET', `/api/instances?service=${service}`)).json().instances;
const weights = async (service: string) => Object.fromEntries((await list(service)).map((i) => [i.id, i.weight]));
async function view(key: string): Promise<View | undefined> {
  const r = await ten.api('GET', `/api/instances/${key.replace(':', '/')}`);
  return r.status === 404 ? undefined : r.json();
}
const waitRunning = (key: string) => waitFor(`${key} running`, async () => {
  const v = await view(key);
  return v?.state === 'running' && v.health === 'healthy' ? v : undefined;
}, 20_000);
const operation = async (id: number): Promise<OperationView> => (await ten.api('GET', `/api/workflows/operations/${id}`)).json();

const STEP_LINE = /^\[\d\d:\d\d:\d\d\] /;
/** The lines of a followed operation: each step `[HH:MM:SS] message` (messages returned), then `last`. */
function steps(out: string): string[] {
  const lines = out.trimEnd().split('\n');
  for (const l of lines) assert.match(l, STEP_LINE);
  return lines.map((l) => l.replace(STEP_LINE, ''));
}

test('ten deploy api --version v2: posts, follows, prints each step then a summary', async () => {
  const r = await cli('deploy', 'api', '--version', 'v2', '--weight', '50', '--timeout', '2m');
  assert.equal(r.err, '');
  assert.equal(r.code, 0);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 4, r.out);
  assert.match(lines[3]!, /^deploy of api:v2 succeeded in \d+(\.\d)?s$/);
  const v2 = (await view('api:v2'))!;
  assert.deepEqual(steps(lines.slice(0, 3).join('\n')), [
    'starting api:v2 at weight 0',
    `api:v2 is healthy (pid ${v2.pid}, 127.0.0.1:${v2.port})`,
    'api:v2 weight 0 → 50',
  ]);
  assert.deepEqual([v2.state, v2.health, v2.weight], ['running', 'healthy', 50]);
  // what the server was asked: --timeout 2m arrived as 120 s
  const [entry] = (await ten.api('GET', '/api/workflows/history?service=api')).json().entries as HistoryEntryView[];
  assert.equal(entry!.kind, 'deploy');
  const op = await operation(entry!.data.op as number);
  assert.deepEqual(op.params, { service: 'api', version: 'v2', weight: 50, timeout: 120 });
  assert.equal(op.status, 'succeeded');
});

test('ten deploy roll:v3 --strategy rolling --batch 2; --json prints only the final operation; it only polls its operation', async () => {
  const r = await cli('deploy', 'roll:v3', '--strategy', 'rolling', '--batch', '2', '--json', '--debug');
  assert.equal(r.code, 0, r.err);
  const op = JSON.parse(r.out) as OperationView;
  assert.deepEqual([op.kind, op.status, op.error], ['rolling', 'succeeded', null]);
  assert.deepEqual(op.params, { service: 'roll', version: 'v3', timeout: 30, batch: 2 });
  assert.deepEqual(op.steps.map((s) => s.message), [
    'replacing 2 instance(s) of roll in 1 batch(es) of 2',
    'batch 1/1: starting v3-1, v3-2',
    'batch 1/1: a → v3-1 (weight 100), b → v3-2 (weight 100); draining the old',
    'batch 1/1: stopped a, b',
  ]);
  assert.deepEqual(await weights('roll'), { 'v3-1': 100, 'v3-2': 100 });
  // --debug logs each request on stderr: one POST, then GETs of that operation only
  const requests = r.err.trimEnd().split('\n').map((l) => l.replace(/ \(\d+ ms\)$/, ''));
  assert.equal(requests[0], `debug: POST ${cli.server}/api/workflows/deploy -> 202`);
  assert.ok(requests.length >= 2, r.err);
  for (const q of requests.slice(1)) assert.equal(q, `debug: GET ${cli.server}/api/workflows/operations/${op.id} -> 200`);
});

test('a failed deploy exits 1 with the operation\'s error and hint; nothing is left behind', async () => {
  const r = await cli('deploy', 'bad:v2');
  assert.equal(r.code, 1);
  assert.deepEqual(steps(r.out), [
    'starting bad:v2 at weight 0',
    'deploy failed: bad:v2 did not become healthy: exited with code 3; weights unchanged',
  ]);
  assert.equal(r.err, 'error TEN_ERR_WORKFLOW_UNHEALTHY: bad:v2 did not become healthy: exited with code 3\n'
    + '  hint: check the new version\'s log; nothing else was changed\n');
  assert.equal(await view('bad:v2'), undefined, 'bad:v2 is gone');
  const json = await cli('deploy', 'bad:v2', '--json');
  assert.equal(json.code, 1);
  assert.equal(json.err, '');
  const op = JSON.parse(json.out) as OperationView;
  assert.deepEqual([op.status, op.error?.code], ['failed', 'TEN_ERR_WORKFLOW_UNHEALTHY']);
});

test('ten route: prints the weights; a refusal (409) is relayed; --force switches anyway', async () => {
  const r = await cli('route', 'rt', '--from', 'blue', '--to', 'green');
  assert.deepEqual(r, { code: 0, out: 'rt:blue   weight 0\nrt:green  weight 100\n', err: '' });
  assert.deepEqual(await weights('rt'), { blue: 0, green: 100 });
  // rt:sick runs, then fails its health checks (GET /sick) until it is unhealthy
  assert.equal((await cli('spawn', 'rt:sick', '--weight', '0')).code, 0);
  assert.equal((await ten.get('sick.rt.localhost', '/sick')).status, 200);
  await waitFor('rt:sick unhealthy', async () => (await view('rt:sick'))?.state === 'unhealthy');
  const sick = await cli('route', 'rt', '--from', 'green', '--to', 'sick');
  assert.equal(sick.code, 1);
  assert.equal(sick.out, '');
  assert.match(sick.err, /^error TEN_ERR_WORKFLOW_NOT_HEALTHY: refusing to route to rt:sick: it is unhealthy\n {2}hint: .*--force/);
  assert.deepEqual(await weights('rt'), { blue: 0, green: 100, sick: 0 }, 'nothing changed');
  const forced = await cli('route', 'rt', '--from', 'green', '--to', 'sick', '--force', '--json');
  assert.equal(forced.code, 0, forced.err);
  assert.deepEqual(JSON.parse(forced.out), { service: 'rt', weights: { blue: 0, green: 0, sick: 100 } });
  assert.deepEqual(await weights('rt'), { blue: 0, green: 0, sick: 100 });
  const routes = ((await ten.api('GET', '/api/workflows/history?service=rt')).json().entries as HistoryEntryView[]).map((e) => e.detail);
  assert.deepEqual(routes, ['routed rt from blue to green', 'routed rt from green to sick (forced)']);
});

test('ten rollout: durations converted (interval s, max-p99 ms); status; abort of a running rollout', async () => {
  const none = await cli('rollout', 'status', 'web');
  assert.equal(none.code, 1);
  assert.match(none.err, /^error TEN_ERR_WORKFLOW_NOT_FOUND: no rollout for service web\n/);

  const r = await cli('rollout', 'web', '--to', 'v2', '--steps', '5,25,100', '--interval', '500ms', '--max-error-rate', '0.01', '--max-p99', '1s', '--timeout', '60');
  assert.equal(r.err, '');
  assert.equal(r.code, 0);
  const lines = r.out.trimEnd().split('\n');
  assert.match(lines.pop()!, /^rollout of web:v2 succeeded in \d+(\.\d)?s$/);
  assert.deepEqual(steps(lines.join('\n')), [
    'web:v2 is not running: deploying it at weight 0',
    'web:v2 is healthy',
    'step 1/3: v2 5%, v1 95%',
    'step 2/3: v2 25%, v1 75%',
    'step 3/3: v2 100%, v1 0%',
    'rollout of web:v2 complete; v1 kept running for an instant rollback',
  ]);
  assert.deepEqual(await weights('web'), { v1: 0, v2: 100 });

  const status = await cli('rollout', 'status', 'web');
  assert.equal(status.code, 0);
  assert.match(status.out, /^kind +rollout\ntarget +web:v2\nid +\d+\nstatus +succeeded\n.*^plan +5% → 25% → 100%, 0\.5s per step$.*^steps\n {2}\[\d\d:\d\d:\d\d\] web:v2 is not running: deploying it at weight 0\n/ms);
  assert.doesNotMatch(status.out, /^current/m);
  const json = JSON.parse((await cli('rollout', 'status', 'web', '--json')).out) as OperationView;
  assert.deepEqual(json.params, { service: 'web', to: 'v2', steps: [5, 25, 100], interval: 0.5, max_error_rate: 0.01, max_p99_ms: 1000, timeout: 60 });

  // a rollout to v3 (10 steps of 1 s), followed by one command and aborted by another once at step 1
  const following = cli('rollout', 'web', '--to', 'v3', '--steps', '10,20,30,40,50,60,70,80,90,100', '--interval', '1s');
  await waitFor('the rollout to v3 at step 1', async () => {
    const op = (await ten.api('GET', '/api/workflows/rollout/web')).json() as OperationView;
    return op.params.to === 'v3' && op.steps.some((s) => s.message.startsWith('step 1/10:'));
  });
  const running = await cli('rollout', 'status', 'web');
  assert.match(running.out, /^status +running\n/m);
  assert.match(running.out, /^current +step \d+\/10: v3 \d+%, v2 \d+%$/m);
  const abort = await cli('rollout', 'abort', 'web');
  assert.equal(abort.code, 0, abort.err);
  assert.match(abort.out, /^rollout of web:v3 aborted in \d+(\.\d)?s\n$/);
  const followed = await following;
  assert.equal(followed.code, 1);
  assert.match(followed.out, /\] rolled back: aborted by the user; v3 0%, v2 100%\n$/);
  assert.equal(followed.err, 'error TEN_ERR_WORKFLOW_ROLLED_BACK: rollout of web rolled back: aborted by the user\n'
    + '  hint: see `ten history web`; fix the new version and roll out again\n');
  assert.equal((JSON.parse((await cli('rollout', 'status', 'web', '--json')).out) as OperationView).status, 'aborted');
  assert.deepEqual(await weights('web'), { v1: 0, v2: 100, v3: 0 });
  const again = await cli('rollout', 'abort', 'web');
  assert.equal(again.code, 1);
  assert.match(again.err, /^error TEN_ERR_WORKFLOW_NOT_FOUND: no running rollout for service web\n/);
});

test('ten shadow, shadow status, shadow stop', async () => {
  assert.equal((await cli('spawn', 'sh:v2', '--weight', '0')).code, 0);
  const r = await cli('shadow', 'sh', '--to', 'v2', '--percent', '10');
  assert.deepEqual(r, { code: 0, out: 'mirroring 10% of sh requests to sh:v2\n', err: '' });
  const shadow = async (): Promise<ShadowView> => (await ten.api('GET', '/api/workflows/shadow/sh')).json();
  assert.deepEqual([(await shadow()).percent, (await shadow()).active], [10, true]);
  // without --percent the server's default applies: every request
  assert.equal((await cli('shadow', 'sh', '--to', 'v2')).out, 'mirroring 100% of sh requests to sh:v2\n');
  for (let i = 0; i < 10; i++) assert.equal((await ten.get('sh.localhost', '/')).json().instance, 'sh:v1');
  const settled = await waitFor('10 answers compared', async () => {
    const s = await shadow();
    return s.compared === 10 ? s : undefined;
  });
  assert.deepEqual([settled.percent, settled.mirrored, settled.status_mismatches, settled.shadow_errors], [100, 10, 0, 0]);
  const status = await cli('shadow', 'status', 'sh');
  assert.equal(status.code, 0);
  assert.equal(status.out, formatShadow(await shadow()));
  assert.match(status.out, /^shadow +sh → sh:v2, 100% of requests\n/);
  assert.match(status.out, /^mirrored +10$/m);
  const stop = await cli('shadow', 'stop', 'sh');
  assert.equal(stop.code, 0);
  assert.match(stop.out, /^stopped mirroring sh to sh:v2\nshadow +sh → sh:v2, 100% of requests \(stopped\)\n/);
  // stopped: no more copies
  for (let i = 0; i < 3; i++) assert.equal((await ten.get('sh.localhost', '/')).status, 200);
  const after = JSON.parse((await cli('shadow', 'status', 'sh', '--json')).out) as ShadowView;
  assert.deepEqual([after.active, after.mirrored], [false, 10]);
  const missing = await cli('shadow', 'sh', '--to', 'v9');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^error TEN_ERR_INSTANCE_NOT_FOUND: instance sh:v9 not found\n/);
});

test('ten history [service] [--limit N]: newest last; --json as returned', async () => {
  assert.equal((await cli('route', 'hist', '--from', 'blue', '--to', 'green')).code, 0);
  assert.equal((await cli('weight', 'hist:blue', '30')).code, 0);
  const TIME = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d';
  const r = await cli('history', 'hist');
  assert.equal(r.code, 0);
  const lines = r.out.split('\n');
  assert.deepEqual(lines.map((l) => l.replace(new RegExp(`^${TIME}`), 'TIME')), [
    'TIME                SERVICE  KIND         OUTCOME     DETAIL',
    'TIME hist     route        ok          routed hist from blue to green',
    'TIME hist     weight       ok          hist:blue weight 0 → 30 (ten weight)',
    '',
  ]);
  const one = await cli('history', 'hist', '--limit', '1', '--json');
  const { entries } = JSON.parse(one.out) as { entries: HistoryEntryView[] };
  assert.deepEqual(entries.map((e) => [e.service, e.kind, e.detail]), [['hist', 'weight', 'hist:blue weight 0 → 30 (ten weight)']]);
  // every service, oldest first: the weight change just made is the last line
  const all = (await cli('history')).out.trimEnd().split('\n').slice(1);
  assert.ok(all.length > 10, `${all.length} entries`);
  const times = all.map((l) => l.slice(0, 19));
  assert.deepEqual(times, [...times].sort(), 'in time order');
  assert.match(all.at(-1)!, /^\S+ \S+ hist +weight +ok +hist:blue weight 0 → 30 \(ten weight\)$/);
  assert.ok(all.some((l) => /^\S+ \S+ web +rollback +aborted +rolled back web:v3: aborted by the user$/.test(l)));
});
