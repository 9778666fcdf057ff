// The instance commands of the `ten` CLI (spawn, ps/ls, weight, restart, health, stop) against a
// real ten serve: what they print, their exit codes, what they change on the server, how server
// errors are relayed, and where the token comes from. The commands run in-process (runCli) with
// --server/--token pointing at the server; one server for the whole file.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inProcessCli, type TenCli } from './cli-helper.ts';
import { cleanup, fixtureService, runCli, startTen, waitFor, type Ten } from './harness.ts';

after(cleanup);

interface View { key: string; state: string; health: string; weight: number; port: number | null; pid: number | null; restarts: number }

// api: starts in 300 ms, so a spawn answer is always `starting` and waiting for `running` is real.
// bad: every process exits with code 3 at start, and is not restarted.
// web: an app answering 500 to everything but /health: not a ten serve, for the "not an API answer" case.
const CONFIG = `[settings]
health_interval = 30
drain_timeout = 1
${fixtureService('api', 'stop_timeout = 2')}START_DELAY_MS = "300"
${fixtureService('bad', 'restart = "never"')}FAIL_AT_START = "1"
${fixtureService('web')}ERROR_RATE = "1"

[instances]
web = ["v1"]
`;

let ten: Ten;
let cli: TenCli;
before(async () => {
  ten = await startTen(CONFIG);
  cli = inProcessCli(ten);
  await running('web:v1');
});

async function view(key: string): Promise<View> {
  const r = await ten.api('GET', `/api/instances/${key.replace(':', '/')}`);
  assert.equal(r.status, 200, r.body);
  return r.json();
}
const running = (key: string) => waitFor(`${key} running`, async () => {
  const v = await view(key);
  return v.state === 'running' && v.health === 'healthy' ? v : undefined;
});
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('spawn posts the instance, waits until it is running, prints one line; --no-wait does not wait', async () => {
  const r = await cli('spawn', 'api', '--id', 'green', '--weight', '30');
  assert.equal(r.err, '');
  assert.equal(r.code, 0);
  const green = await view('api:green');
  assert.deepEqual([green.state, green.health, green.weight], ['running', 'healthy', 30]);
  assert.equal(r.out, `api:green running on 127.0.0.1:${green.port} (pid ${green.pid})\n`);
  assert.ok(alive(green.pid!));
  // --no-wait: one request, and the instance as the server answered it (still starting)
  const nowait = await cli('spawn', 'api:blue', '--no-wait', '--debug');
  assert.equal(nowait.code, 0);
  assert.equal(nowait.out, 'api:blue starting\n');
  assert.match(nowait.err, new RegExp(`^debug: POST ${cli.server}/api/instances -> 201 \\(\\d+ ms\\)\\n$`));
  const blue = await running('api:blue');
  assert.equal(blue.weight, 100, 'the service\'s weight when --weight is not given');
});

test('spawn of an instance that fails at start exits 1 with SPAWN_FAILED and the last exit', async () => {
  const r = await cli('spawn', 'bad:one');
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(r.err, /^error TEN_ERR_INSTANCE_SPAWN_FAILED: could not start bad:one: failed \(last exit: code 3\)\n {2}hint: /);
  assert.equal((await view('bad:one')).state, 'failed');
  // a failed instance is still there until stopped
  assert.deepEqual(await cli('stop', 'bad:one'), { code: 0, out: 'bad:one stopped\n', err: '' });
  assert.equal((await ten.api('GET', '/api/instances/bad/one')).status, 404);
});

test('ps, ls SERVICE, ps --json', async () => {
  const green = await view('api:green');
  const web = await view('web:v1');
  const ps = await cli('ps');
  assert.equal(ps.code, 0);
  assert.equal(ps.err, '');
  const lines = ps.out.split('\n');
  assert.match(lines[0]!, /^INSTANCE +SOCKET +UPTIME +HEALTH +WEIGHT +STATE +PID +RESTARTS$/);
  assert.match(ps.out, new RegExp(`^api:green +127\\.0\\.0\\.1:${green.port} +\\d+s +healthy +30 +running +${green.pid} +0$`, 'm'));
  assert.match(ps.out, new RegExp(`^web:v1 +127\\.0\\.0\\.1:${web.port} +\\d+s +healthy +100 +running +${web.pid} +0$`, 'm'));
  assert.equal(lines.length, 1 + 3 + 1, 'header, api:green, api:blue, web:v1, then the final newline');
  // ls SERVICE: the filter reaches the server (web:v1 is not listed); --json is the API's answer
  const ls = await cli('ls', 'api', '--json');
  assert.equal(ls.code, 0);
  const { instances } = JSON.parse(ls.out) as { instances: View[] };
  assert.deepEqual(instances.map((i) => i.key).sort(), ['api:blue', 'api:green']);
  const g = instances.find((i) => i.key === 'api:green')!;
  assert.deepEqual([g.state, g.pid, g.weight], ['running', green.pid, 30]);
  assert.deepEqual(JSON.parse((await cli('ps', '--json')).out).instances.map((i: View) => i.key).sort(), ['api:blue', 'api:green', 'web:v1']);
});

test('weight, restart, health, stop', async () => {
  assert.deepEqual(await cli('weight', 'api:green', '80'), { code: 0, out: 'api:green weight 80\n', err: '' });
  assert.equal((await view('api:green')).weight, 80);

  const old = await view('api:green');
  const restart = await cli('restart', 'api:green');
  // the server answers once the new process runs (docs/cli.md: `api:blue running`)
  assert.deepEqual(restart, { code: 0, out: 'api:green running\n', err: '' });
  const fresh = await running('api:green');
  assert.notEqual(fresh.pid, old.pid, 'a new process');
  assert.ok(!alive(old.pid!), 'the old process is gone');
  assert.equal(fresh.weight, 80, 'same weight');

  const ok = await cli('health');
  assert.equal(ok.code, 0, `every probe ok:\n${ok.out}`);
  assert.match(ok.out, /^INSTANCE +HEALTH +DETAIL +LATENCY\n/);
  for (const key of ['api:green', 'api:blue', 'web:v1']) assert.match(ok.out, new RegExp(`^${key} +healthy +HTTP 200 +\\d+ms$`, 'm'));

  // api:sick runs, then its /health starts answering 503 (GET /sick on it, through the proxy)
  assert.equal((await cli('spawn', 'api:sick')).code, 0);
  assert.equal((await ten.get('sick.api.localhost', '/sick')).status, 200);
  const all = await cli('health');
  assert.equal(all.code, 1);
  assert.match(all.out, /^api:sick +unhealthy +HTTP 503 +\d+ms$/m);
  assert.match(all.out, /^api:green +healthy +HTTP 200 +\d+ms$/m);
  assert.equal((await cli('health', 'api:green')).code, 0);
  const sick = await cli('health', 'api', '--id', 'sick', '--json');
  assert.equal(sick.code, 1);
  assert.deepEqual(JSON.parse(sick.out).results.map((r: { instance: View; probe: { ok: boolean; detail: string } }) => [r.instance.key, r.probe.ok, r.probe.detail]),
    [['api:sick', false, 'HTTP 503']]);

  const { pid } = await view('api:green');
  assert.deepEqual(await cli('stop', 'api', '--id', 'green'), { code: 0, out: 'api:green stopped\n', err: '' });
  assert.equal((await ten.api('GET', '/api/instances/api/green')).status, 404);
  assert.ok(!alive(pid!), 'its process is gone');
  assert.equal((await cli('stop', 'api:sick')).code, 0);
  assert.equal((await cli('health')).code, 0, 'healthy again without api:sick');
});

test('server errors are relayed with their code and hint; answers that are not the API are named', async () => {
  assert.deepEqual(await cli('stop', 'api:nope'), {
    code: 1, out: '', err: 'error TEN_ERR_INSTANCE_NOT_FOUND: instance api:nope not found\n  hint: list instances with `ten ps`\n',
  });
  const unknown = await cli('spawn', 'nope:x');
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /^error TEN_ERR_INSTANCE_UNKNOWN_SERVICE: service nope is not defined in tenement.toml\n {2}hint: add \[service\.nope\]/);
  // a typo of a service: a suggestion, for ten ps too (it printed an empty table and exited 0)
  assert.match((await cli('spawn', 'apu:x')).err, /^error TEN_ERR_INSTANCE_UNKNOWN_SERVICE: service apu is not defined in tenement.toml \(did you mean api\?\)\n/);
  assert.deepEqual(await cli('ps', 'apu'), {
    code: 1, out: '', err: 'error TEN_ERR_INSTANCE_UNKNOWN_SERVICE: service apu is not defined in tenement.toml (did you mean api?)\n  hint: add [service.apu] to tenement.toml, or check the spelling\n',
  });
  assert.equal((await cli('ps', 'nope', '--json')).code, 1);
  // and for ten logs and ten history (they printed nothing and exited 0: issue 13 trial)
  assert.match((await cli('logs', 'apu')).err, /^error TEN_ERR_INSTANCE_UNKNOWN_SERVICE: service apu is not defined in tenement.toml \(did you mean api\?\)\n/);
  assert.match((await cli('history', 'apu')).err, /^error TEN_ERR_INSTANCE_UNKNOWN_SERVICE: service apu is not defined in tenement.toml\n/);
  const exists = await cli('spawn', 'api:blue');
  assert.equal(exists.code, 1);
  assert.match(exists.err, /^error TEN_ERR_INSTANCE_EXISTS: instance api:blue already exists\n/);

  const wrong = await cli.with({ token: 'wrong' }, 'ps');
  assert.equal(wrong.code, 1);
  assert.equal(wrong.out, '');
  assert.match(wrong.err, /^error TEN_ERR_API_UNAUTHORIZED: missing or invalid API token\n {2}hint: pass --token/);
  const path = await cli.with({ server: `${cli.server}/elsewhere` }, 'ps');
  assert.equal(path.code, 1);
  assert.match(path.err, /^error TEN_ERR_API_NOT_FOUND: no API route GET \/elsewhere\/api\/instances\n/);
  // --server pointing at an app instead of ten serve
  const app = await view('web:v1');
  const notTen = await cli.with({ server: `http://127.0.0.1:${app.port}` }, 'ps');
  assert.equal(notTen.code, 1);
  assert.equal(notTen.out, '');
  assert.match(notTen.err, new RegExp(`^error TEN_ERR_CLI_SERVER_UNREACHABLE: cannot reach ten serve at http://127\\.0\\.0\\.1:${app.port} `
    + '\\(HTTP 500 from GET /api/instances is not a ten serve API answer\\)\\n'));
});

// A 2xx JSON answer from something else (here: an app that answers every path with 200 JSON) must
// not be taken for ten serve's: it lacks the x-tenement-api header every management answer has.
test('a 200 answer from something that is not ten serve is not taken for success', async () => {
  const okApp = await view('api:blue');
  for (const args of [['stop', 'api:blue'], ['weight', 'api:blue', '5'], ['ps']]) {
    const r = await cli.with({ server: `http://127.0.0.1:${okApp.port}` }, ...args);
    assert.equal(r.code, 1, `ten ${args.join(' ')}: ${r.out}${r.err}`);
    assert.match(r.err, /^error TEN_ERR_CLI_SERVER_UNREACHABLE: .*is not a ten serve API answer/);
  }
});

test('with no --token and no TENEMENT_TOKEN the real `ten` reads {data_dir}/api_token of the tenement.toml in its directory', async () => {
  const r = await runCli(['ls', 'web'], { TENEMENT_SERVER: cli.server, TENEMENT_TOKEN: '', TENEMENT_CONFIG: '' }, ten.dir);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^web:v1 +127\.0\.0\.1:\d+ /m);
  // the same through --config from anywhere else
  const viaConfig = await cli.with({ token: null }, 'ls', 'web', '--config', ten.configPath);
  assert.equal(viaConfig.err, '');
  assert.match(viaConfig.out, /^web:v1 /m);
});
