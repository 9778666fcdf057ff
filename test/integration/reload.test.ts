// `ten reload` and SIGHUP against a real ten serve, real apps and the real CLI: a broken config is
// refused with all its errors and nothing changes; services added, removed and changed take
// effect (the changed one restarted one instance at a time while it keeps serving) and the
// instances of the others keep their pids; a removed service's instances come back with it; a
// restart that does not come back leaves the rest on their old process; SIGHUP does the same.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../core/config.ts';
import { startServer } from '../../core/server.ts';
import type { ConfigReload, ReloadReport } from '../../core/types.ts';
import { BUILTINS } from '../../plugins/index.ts';
import { cleanup, FIXTURE_APP, fixtureService, runCli, startTen, waitFor, type Ten } from './harness.ts';

after(cleanup);

interface View { key: string; state: string; health: string; weight: number; pid: number | null }

/** A [service.NAME] table running the fixture app; `env` lines go under its env table. */
const svc = (name: string, extra = '', env = 'INSTANCE = "{name}:{id}"') =>
  `[service.${name}]\nargs = ["${process.execPath}", "${FIXTURE_APP}"]\nhealth = "/health"\nstop_timeout = 2\n${extra}\n[service.${name}.env]\n${env}\n`;
/** The file as the harness writes it (listen and data_dir added under [settings]). */
const asWritten = (toml: string) => toml.replace('[settings]', '[settings]\nlisten = "127.0.0.1"\ndata_dir = "./data"');
const write = (ten: Ten, toml: string) => writeFileSync(ten.configPath, asWritten(toml));

async function views(ten: Ten): Promise<Map<string, View>> {
  const r = await ten.api('GET', '/api/instances');
  assert.equal(r.status, 200, r.body);
  return new Map((r.json().instances as View[]).map((v) => [v.key, v]));
}
const pids = async (ten: Ten) => new Map([...await views(ten)].map(([k, v]) => [k, v.pid]));
const allRunning = (ten: Ten, keys: string[]) => waitFor(`${keys.join(', ')} running`, async () => {
  const v = await views(ten);
  return keys.every((k) => v.get(k)?.state === 'running' && v.get(k)?.health === 'healthy') ? v : undefined;
}, 30_000);
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

// drain_timeout: an instance being replaced finishes its requests (the test sends them one at a time)
const V1 = `[settings]
health_interval = 30
drain_timeout = 5
${svc('api')}
${svc('keep')}
${svc('tune')}
${svc('old')}
[instances]
api = ["a", "b"]
keep = ["k"]
tune = ["t"]
old = ["o"]
`;
/** api: its environment changed (restart); tune: idle_timeout and weight (in place); old removed; web added;
 *  health_interval applies, domain and max_requests need a restart of ten serve, and so does the
 *  new [plugins.workflows] table. */
const V2 = `[settings]
health_interval = 20
drain_timeout = 5
domain = "example.test"
max_requests = 500
${svc('api', '', 'INSTANCE = "v2/{name}:{id}"')}
${svc('keep')}
${svc('tune', 'idle_timeout = 3600\nweight = 40')}
${svc('web')}
[instances]
api = ["a", "b"]
keep = ["k"]
tune = ["t"]
web = ["w"]

[plugins.workflows]
use = "deploy-workflows"
target_header = "x-other"
`;

// one ten serve for the `ten reload` tests below, which run in order, each from where the last left it
let ten: Ten;
let v1: Map<string, View>;
before(async () => {
  ten = await startTen(V1);
  v1 = await allRunning(ten, ['api:a', 'api:b', 'keep:k', 'tune:t', 'old:o']);
});

test('ten reload: a broken config is refused with all its errors, and nothing changes', async () => {
  const services = (await ten.api('GET', '/api/services')).body;
  // schema errors, one per key, and an [instances] entry naming no service: each with its line
  const broken = V1.replace('drain_timeout = 5', 'drain_timeout = "soon"').replace('[service.keep]', '[service.keep]\nweight = 101')
    .replace('old = ["o"]', 'old = ["o"]\nghost = ["g"]');
  write(ten, broken);
  const lineOf = (text: string) => asWritten(broken).split('\n').indexOf(text) + 1;
  const r = await ten.cli('reload');
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, [
    'error TEN_ERR_RELOAD_INVALID: tenement.toml was not reloaded, the config in force stays (3 errors):',
    `  TEN_ERR_CONFIG_INVALID_TYPE: settings.drain_timeout must be a number, got "soon" (tenement.toml:${lineOf('drain_timeout = "soon"')})`,
    `  TEN_ERR_CONFIG_OUT_OF_RANGE: service.keep.weight must be between 0 and 100, got 101 (tenement.toml:${lineOf('weight = 101')})`,
    `  TEN_ERR_CONFIG_INVALID_VALUE: instances.ghost names service "ghost", which is not defined: add [service.ghost] or fix the name (tenement.toml:${lineOf('ghost = ["g"]')})`,
    '  hint: fix what is listed (`ten config` checks the file without touching the server), then reload again',
    '',
  ].join('\n'));
  // the API: 422, the code, and the list with keys and lines
  const api = await ten.api('POST', '/api/reload');
  assert.equal(api.status, 422);
  assert.equal(api.json().code, 'TEN_ERR_RELOAD_INVALID');
  assert.deepEqual(api.json().errors.map((e: { key: string; line: number }) => [e.key, e.line]),
    [['settings.drain_timeout', lineOf('drain_timeout = "soon"')], ['service.keep.weight', lineOf('weight = 101')], ['instances.ghost', lineOf('ghost = ["g"]')]]);
  // bad TOML, and a plugin that does not load: the same refusal
  write(ten, `${V1}\n[service.x\n`);
  const toml = await ten.api('POST', '/api/reload');
  assert.equal(toml.status, 422);
  assert.equal(toml.json().errors[0].code, 'TEN_ERR_CONFIG_PARSE');
  write(ten, `${V1}\n[plugins.balancer]\nuse = "./no-such-balancer.mjs"\n`);
  const plugin = await ten.api('POST', '/api/reload');
  assert.equal(plugin.status, 422);
  assert.equal(plugin.json().errors[0].code, 'TEN_ERR_PLUGIN_NOT_FOUND');
  assert.match(plugin.json().errors[0].message, /no-such-balancer\.mjs.*\(plugins\.balancer, tenement\.toml:\d+\)/);
  // nothing changed: same instances, same processes, same services
  assert.deepEqual(await pids(ten), new Map([...v1].map(([k, v]) => [k, v.pid])));
  assert.equal((await ten.api('GET', '/api/services')).body, services);
  assert.match(ten.output(), /"source":"api","code":"TEN_ERR_RELOAD_INVALID".*"msg":"config reload refused: tenement.toml was not reloaded/);
});

test('ten reload: services added, removed and changed; the changed one keeps serving; the others keep their pids', async () => {
  // V1 → V2 with `ten reload --json` while api.localhost is under requests
  const weight = await ten.api('PUT', '/api/instances/old/o/weight', { weight: 30 });
  assert.equal(weight.status, 200);
  write(ten, V2);
  let reloading = true;
  const answers: number[] = [];
  const load = (async () => {
    while (reloading) answers.push(await ten.get('api.localhost', '/').then((r) => r.status, () => 0));
  })();
  const r = await ten.cli('reload', '--json').finally(() => { reloading = false; });
  await load;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const report: ReloadReport = JSON.parse(r.stdout);
  assert.deepEqual(report.services, {
    added: ['web'], removed: ['old'],
    changed: [{ service: 'api', restart: ['env'], live: [] }, { service: 'tune', restart: [], live: ['idle_timeout', 'weight'] }],
  });
  assert.deepEqual(report.instances, { started: ['web:w'], removed: ['old:o'], restarted: ['api:a', 'api:b'], stopped: [], failed: [] });
  assert.deepEqual(report.settings, { applied: ['health_interval'], needs_restart: ['domain', 'max_requests'] });
  assert.deepEqual(report.plugins, { needs_restart: ['plugins.workflows'] });
  assert.equal(report.warnings.length, 3);
  // the changed service kept serving while its instances were replaced one at a time
  assert.ok(answers.length > 0);
  assert.deepEqual(answers.filter((s) => s !== 200), [], `${answers.length} requests during the reload`);
  const now = await views(ten);
  console.log(`pids before: ${JSON.stringify(Object.fromEntries([...v1].map(([k, v]) => [k, v.pid])))}`);
  console.log(`pids after:  ${JSON.stringify(Object.fromEntries([...now].map(([k, v]) => [k, v.pid])))}; ${answers.length} requests to api during the reload, all 200`);
  for (const k of ['keep:k', 'tune:t']) assert.equal(now.get(k)!.pid, v1.get(k)!.pid, `${k} was not touched`);
  for (const k of ['api:a', 'api:b']) {
    assert.notEqual(now.get(k)!.pid, v1.get(k)!.pid, `${k} was restarted`);
    assert.equal(now.get(k)!.state, 'running');
    assert.equal(alive(v1.get(k)!.pid!), false);
  }
  assert.equal(now.has('old:o'), false);
  assert.equal(alive(v1.get('old:o')!.pid!), false);
  assert.equal(now.get('web:w')!.state, 'running');
  assert.match((await ten.get('api.localhost', '/')).json().instance, /^v2\/api:[ab]$/);
  assert.equal((await ten.get('web.localhost', '/')).json().instance, 'web:w');
  assert.equal((await ten.get('old.localhost', '/')).json().code, 'TEN_ERR_ROUTE_UNKNOWN_SERVICE');
  // in place: the services the API lists, tune's weight for new instances; tune:t keeps its own
  const services = (await ten.api('GET', '/api/services')).json().services as Array<{ name: string; weight: number }>;
  assert.deepEqual(services.map((x) => `${x.name}=${x.weight}`), ['api=100', 'keep=100', 'tune=40', 'web=100']);
  assert.equal(now.get('tune:t')!.weight, 100);
  // the event stream says what happened, per service and for the server
  const events = (await ten.api('GET', '/api/logs?grep=reload&stream=event&limit=100')).json().lines as Array<{ service: string; message: string }>;
  const said = (service: string) => events.filter((e) => e.service === service && e.message.startsWith('reload: ')).map((e) => e.message);
  assert.deepEqual(said('web'), ['reload: service added (1 instance(s) started)']);
  assert.deepEqual(said('old'), ['reload: service removed (1 instance(s) stopped, kept in the store)']);
  assert.deepEqual(said('api'), ['reload: service changed: env; 2 instance(s) restarted']);
  assert.match(said('').join('\n'), /^reload: config reloaded \(api\): added web; removed old; changed api, tune; restarted api:a, api:b/);
  // reloading the same file again: the keys needing a restart are still reported, nothing else
  const again = await ten.api('POST', '/api/reload');
  assert.equal(again.status, 200);
  assert.deepEqual([again.json().services.changed, again.json().instances.restarted, again.json().settings.needs_restart], [[], [], ['domain', 'max_requests']]);
});

test('ten reload: a removed service comes back with its stored instances and their weights; a stopped one stays stopped', async () => {
  // keep:k, listed in [instances] before and after, was stopped on purpose: the reload leaves it so
  assert.equal((await ten.api('DELETE', '/api/instances/keep/k')).status, 200);
  write(ten, V2 + svc('old')); // old:o is not in [instances]: the store brings it back
  const r = await ten.api('POST', '/api/reload');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual([r.json().services.added, r.json().instances.started], [['old'], ['old:o']]);
  const now = await views(ten);
  assert.deepEqual([now.get('old:o')!.state, now.get('old:o')!.weight], ['running', 30]);
  assert.equal(now.has('keep:k'), false);
});

test('ten reload: a restarted instance that does not come back ends the rolling restart; the rest keep serving', async () => {
  // api's new command fails at start: api:a does not come back, api:b keeps its old process and serves
  const was = await views(ten);
  write(ten, V2.replace('INSTANCE = "v2/{name}:{id}"', 'INSTANCE = "v3/{name}:{id}"\nFAIL_AT_START = "1"') + svc('old'));
  const r = await ten.cli('reload');
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^warning: api:a is (restarting|failed): .*code 3/m);
  assert.match(r.stdout, /^warning: api:b is running: not restarted, still on its old process: api:a did not come back$/m);
  const now = await views(ten);
  assert.equal(now.get('api:b')!.pid, was.get('api:b')!.pid);
  for (let i = 0; i < 5; i++) assert.equal((await ten.get('api.localhost', '/')).json().instance, 'v2/api:b');
});

test('SIGHUP reloads like ten reload, and logs a broken config without changing anything', async () => {
  const small = `[settings]\nhealth_interval = 30\ndrain_timeout = 1\n${svc('api')}\n${svc('keep')}\n[instances]\napi = ["a"]\nkeep = ["k"]\n`;
  const hup = await startTen(small);
  const was = await allRunning(hup, ['api:a', 'keep:k']);
  write(hup, small.replace('[service.keep]', '[service.keep]\nbogus_key = 1'));
  hup.child.kill('SIGHUP');
  await waitFor('the refusal in the log', () => /"source":"SIGHUP","code":"TEN_ERR_RELOAD_INVALID".*unknown key service\.keep\.bogus_key/.test(hup.output()));
  assert.deepEqual(await pids(hup), new Map([...was].map(([k, v]) => [k, v.pid])));

  // api changed (its [service.api.env] is the first), web added with an instance
  write(hup, small.replace('INSTANCE = "{name}:{id}"', 'INSTANCE = "v2/{name}:{id}"').replace('[instances]', `${svc('web')}\n[instances]\nweb = ["w"]`));
  hup.child.kill('SIGHUP');
  await waitFor('the reload in the log', () => /"source":"SIGHUP","services":\{"added":\["web"\]/.test(hup.output()), 60_000);
  const now = await allRunning(hup, ['api:a', 'keep:k', 'web:w']);
  assert.equal(now.get('keep:k')!.pid, was.get('keep:k')!.pid);
  assert.notEqual(now.get('api:a')!.pid, was.get('api:a')!.pid);
  assert.equal((await hup.get('api.localhost', '/')).json().instance, 'v2/api:a');
});

test('in process: the configReloaded hook gets the report; one reload at a time; none without a file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-reload-'));
  const file = join(dir, 'tenement.toml');
  writeFileSync(file, '[settings]\nlisten = "127.0.0.1"\nport = 0\n');
  const server = await startServer(loadConfig({ path: file }), BUILTINS, { log: pino({ level: 'silent' }) });
  const noFile = await startServer({ ...loadConfig({ path: file }), path: undefined, settings: { ...loadConfig({ path: file }).settings, data_dir: join(dir, 'other') } }, BUILTINS, { log: pino({ level: 'silent' }) });
  try {
    const seen: ConfigReload[] = [];
    server.hooks.configReloaded.tap('test', (r) => { seen.push(r); });
    writeFileSync(file, `[settings]\nlisten = "127.0.0.1"\nport = 0\nhealth_interval = 2\n${svc('x')}`);
    const [first, second] = await Promise.allSettled([server.reload('api'), server.reload('api')]);
    assert.equal(first.status, 'fulfilled');
    assert.equal(second.status === 'rejected' && second.reason.code, 'TEN_ERR_RELOAD_BUSY');
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0].report.services.added, ['x']);
    assert.deepEqual([seen[0].previous.settings.health_interval, seen[0].config.settings.health_interval], [5, 2]);
    assert.ok(Object.isFrozen(seen[0].config.services.x));
    await assert.rejects(noFile.reload('api'), { code: 'TEN_ERR_RELOAD_NO_FILE' });
  } finally {
    await server.close();
    await noFile.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('while tenement.toml has errors, `ten` in the project folder still finds the server (its port) and the token: ten ps works, ten reload prints the refusal', async () => {
  const ten = await startTen(`${fixtureService('api')}\n[instances]\napi = ["a"]\n`);
  writeFileSync(ten.configPath, readFileSync(ten.configPath, 'utf8').replace('[settings]', `[settings]\nport = ${ten.port}\nhealth_interval = "soon"`));
  const ps = await runCli(['ps'], {}, ten.dir); // no TENEMENT_SERVER, no token: both from the file
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^api:a /m);
  const r = await runCli(['reload'], {}, ten.dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /TEN_ERR_RELOAD_INVALID/);
  assert.match(r.stderr, /settings\.health_interval must be a number/);
});
