// `ten doctor` run for real (the CLI as a child process) on this host: what it says as root — every
// level, limit and the freezer available here, or the honest reason — its exit code against what
// a config asks for, the cgroup folders it makes and removes (never those of a running ten serve
// on the same data_dir), and the same CLI run as `nobody` (setpriv): a real non-root ten serve's
// view, where user/group, cgroup limits and the namespace level are not to be had.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { DoctorReport } from '../../cli/commands/doctor.ts';
import { cgroupTag } from '../../core/cgroup.ts';
import { INIT_PATH } from '../../core/process.ts';
import { cleanup, fixtureService, ROOT, startTen, waitFor } from './harness.ts';

const MAIN = join(ROOT, 'cli/main.ts');
const TSX = import.meta.resolve('tsx');
const root = process.getuid?.() === 0;
const built = existsSync(INIT_PATH);
const hasSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;

const dirs: string[] = [];
after(async () => {
  await cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A temp folder anyone may read (the non-root run reads its config), with `toml` as tenement.toml. */
function configDir(toml: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'ten-doctor-'));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  if (toml !== null) writeFileSync(join(dir, 'tenement.toml'), toml);
  return dir;
}

interface Run { code: number | null; stdout: string; stderr: string }

/** `ten doctor ARGS` in `cwd`, as a child process; `asNobody`: under setpriv, as uid/gid 65534. */
function doctor(cwd: string, args: string[] = [], asNobody = false): Promise<Run> {
  const node = [process.execPath, '--import', TSX, MAIN, 'doctor', ...args];
  const argv = asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...node] : node;
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: asNobody ? tmpdir() : process.env.HOME };
  delete env.TENEMENT_CONFIG;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The `error TEN_ERR_…` codes a run printed, in order. */
const codes = (r: Run) => [...r.stderr.matchAll(/^error (TEN_ERR_[A-Z_]+): /gm)].map((m) => m[1]);

/** Every folder named `tag` under the host's cgroup mounts (at most 3 levels down). */
function tagFolders(tag: string): string[] {
  const found: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries;
    try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name === tag) found.push(join(d, e.name));
      else if (depth < 3 && !e.name.startsWith('tenement-')) walk(join(d, e.name), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

/** Everything a service can ask of this host: the three levels, the three limits, suspend. */
const ASKS_ALL = `
[service.plain]
command = "node server.js"
[service.ns]
command = "node server.js"
isolation = "namespace"
memory_limit_mb = 256
[service.box]
command = "node server.js"
isolation = "sandbox"
cpu_limit = 0.5
pids_limit = 64
idle_action = "suspend"
`;

describe('ten doctor as root', { skip: !root ? 'needs root (the host answers of ten serve as root)' : !built ? `tenement-init is not built (${INIT_PATH})` : false }, () => {
  test('every section, and everything a config can ask for works here: exit 0', async () => {
    const dir = configDir(`[settings]\ndata_dir = "./data"\n${ASKS_ALL}`);
    const r = await doctor(dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, '');
    for (const section of ['tenement-init', 'containment', 'controllers', 'isolation levels (plugin linux-isolation)', 'users', 'services']) {
      assert.match(r.stdout, new RegExp(`^${section.replace(/[()]/g, '\\$&')}`, 'm'), `section ${section}`);
    }
    for (const name of ['process', 'namespace', 'sandbox', 'memory', 'cpu', 'pids', 'subreaper', 'built', 'root', 'nobody']) {
      assert.match(r.stdout, new RegExp(`^  ok  ${name} `, 'm'), `${name} is ok here:\n${r.stdout}`);
    }
    assert.match(r.stdout, /^  ok  ns +isolation namespace, user nobody, memory_limit_mb 256$/m);
    assert.match(r.stdout, /^  ok  box +isolation sandbox, user nobody, cpu_limit 0.5, pids_limit 64, idle_action suspend$/m);
    assert.match(r.stdout, /^everything the config asks for works on this host$/m);
  });

  test('--json: the stable report, with this host\'s answers', async () => {
    const dir = configDir(`[settings]\ndata_dir = "./data"\n${ASKS_ALL}`);
    const r = await doctor(dir, ['--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as DoctorReport;
    assert.deepEqual(Object.keys(j), ['ok', 'config', 'data_dir', 'cgroup_tag', 'uid', 'root', 'init', 'containment', 'controllers', 'isolation', 'users', 'services', 'tls', 'problems']);
    assert.equal(j.ok, true);
    assert.equal(j.config, join(dir, 'tenement.toml'));
    assert.equal(j.data_dir, join(dir, 'data'));
    assert.equal(j.cgroup_tag, cgroupTag(join(dir, 'data')));
    assert.equal(j.root, true);
    assert.deepEqual(j.init, { ok: true, path: INIT_PATH, why: null, fix: null });
    assert.notEqual(j.containment.membership, null, 'a cgroup lists an instance\'s processes here');
    assert.equal(j.containment.subreaper.ok, true);
    for (const c of ['memory', 'cpu', 'pids'] as const) assert.equal(j.controllers[c].ok, true, `${c}: ${j.controllers[c].why}`);
    assert.deepEqual(Object.keys(j.controllers), ['memory', 'cpu', 'pids', 'freezer']);
    assert.equal(j.controllers.memory.for, 'memory_limit_mb');
    assert.equal(j.isolation.plugin, 'linux-isolation');
    assert.deepEqual(Object.fromEntries(Object.entries(j.isolation.levels).map(([k, v]) => [k, v.ok])), { process: true, namespace: true, sandbox: true });
    assert.deepEqual(j.users, { default_user: 'nobody', nobody: { exists: true, uid: 65534 } });
    assert.deepEqual(j.services.map((s) => [s.name, s.isolation, s.user, s.limits, s.ok]), [
      ['plain', 'process', 'nobody', {}, true],
      ['ns', 'namespace', 'nobody', { memory_limit_mb: 256 }, true],
      ['box', 'sandbox', 'nobody', { cpu_limit: 0.5, pids_limit: 64 }, true],
    ]);
    assert.deepEqual(j.problems, []);
  });

  test('without a config file: the defaults (data_dir ./tenement-data), exit 0', async () => {
    const dir = configDir(null);
    const r = await doctor(dir, ['--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(j.config, null);
    assert.equal(j.data_dir, join(dir, 'tenement-data'));
    assert.deepEqual(j.services, []);
    assert.equal(existsSync(join(dir, 'tenement-data')), false, 'ten doctor writes no data_dir');
    const text = await doctor(dir);
    assert.match(text.stdout, /^config +\(none found: the defaults\)$/m);
  });

  test('leaves no cgroup folder of its own behind', async () => {
    const dir = configDir('[settings]\ndata_dir = "./data"\n');
    const tag = cgroupTag(join(dir, 'data'));
    assert.deepEqual(tagFolders(tag), []);
    const r = await doctor(dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`cgroups named ${tag}`));
    assert.deepEqual(tagFolders(tag), [], 'the folders the probe made are gone');
  });

  test('a user that does not exist, and a workdir the app\'s user cannot enter: exit 1 with the code lines', async () => {
    const dir = configDir('');
    const closed = join(dir, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    const unreadable = join(dir, 'unreadable'); // enter, not read: tenement-init wants both (R_OK | X_OK)
    mkdirSync(unreadable, { mode: 0o711 });
    writeFileSync(join(dir, 'tenement.toml'), `[settings]\ndata_dir = "./data"
[service.peek]
command = "node server.js"
workdir = "./unreadable"
[service.ghost]
command = "node server.js"
user = "no-such-user-x"
[service.shut]
command = "node server.js"
workdir = "./closed"
[service.fine]
command = "node server.js"
`);
    const r = await doctor(dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    // the code ten serve fails such a start with (tenement-init's own words for the user)
    assert.deepEqual(codes(r), ['TEN_ERR_INSTANCE_SPAWN_FAILED', 'TEN_ERR_INSTANCE_SPAWN_FAILED', 'TEN_ERR_INSTANCE_SPAWN_FAILED']);
    assert.match(r.stderr, /^error TEN_ERR_INSTANCE_SPAWN_FAILED: could not start service\.ghost: user no-such-user-x: no such user on this host \(service\.ghost\.user\)$/m);
    assert.match(r.stderr, new RegExp(`^error TEN_ERR_INSTANCE_SPAWN_FAILED: could not start service\\.shut: its apps run as nobody, who cannot read and enter its workdir ${closed}: move the app .*, run chmod o\\+rx ${closed}, or set user`, 'm'));
    assert.match(r.stderr, new RegExp(`^error TEN_ERR_INSTANCE_SPAWN_FAILED: could not start service\\.peek: its apps run as nobody, who cannot read and enter its workdir ${unreadable}: .*chmod o\\+rx ${unreadable}`, 'm'));
    assert.match(r.stderr, /^ {2}hint: /m);
    assert.match(r.stdout, /^ {2}no {2}ghost /m);
    assert.match(r.stdout, /^ {2}no {2}shut /m);
    assert.match(r.stdout, /^ {2}ok {2}fine /m);
    assert.match(r.stdout, /^ {2}no {2}peek /m);
    assert.match(r.stdout, /^3 problems: /m);
  });

  test('--config naming no file: TEN_ERR_CONFIG_NOT_FOUND, exit 1', async () => {
    const dir = configDir(null);
    const r = await doctor(dir, ['--config', join(dir, 'missing.toml')]);
    assert.equal(r.code, 1);
    assert.deepEqual(codes(r), ['TEN_ERR_CONFIG_NOT_FOUND']);
  });

  test('beside a running ten serve on the same data_dir: its cgroups are left alone, and it goes on starting instances', async () => {
    const ten = await startTen(`${fixtureService('api', 'memory_limit_mb = 128')}\n[instances]\napi = ["v1"]\n`);
    await waitFor('api:v1 running', async () => (await ten.api('GET', '/api/instances/api/v1')).json().state === 'running', 20_000);
    const tag = cgroupTag(join(ten.dir, 'data'));
    const folders = tagFolders(tag);
    assert.ok(folders.length > 0, 'ten serve made its cgroup folders');
    const r = await doctor(ten.dir, ['--config', ten.configPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(tagFolders(tag), folders, 'every folder of ten serve is still there');
    const spawned = await ten.api('POST', '/api/instances', { service: 'api', id: 'v2' });
    assert.ok(spawned.status < 300, spawned.body);
    await waitFor('api:v2 running', async () => (await ten.api('GET', '/api/instances/api/v2')).json().state === 'running', 20_000);
    await ten.stop();
  });
});

describe('ten doctor as nobody: a ten serve that is not root', { skip: !root ? 'needs root to switch to nobody' : !hasSetpriv ? 'setpriv (util-linux) is not installed' : !built ? `tenement-init is not built (${INIT_PATH})` : false }, () => {
  test('user needs root, namespace needs root, cgroup limits need a cgroup it may write: exit 1 with each code', async () => {
    const dir = configDir(`[settings]\ndata_dir = "./data"
[service.api]
command = "node server.js"
user = "nobody"
[service.ns]
command = "node server.js"
isolation = "namespace"
[service.lim]
command = "node server.js"
memory_limit_mb = 64
`);
    const r = await doctor(dir, ['--json'], true);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(j.uid, 65534);
    assert.equal(j.root, false);
    assert.equal(j.users.default_user, null, 'apps run as ten serve\'s own user');
    assert.equal(j.isolation.levels.namespace.ok, false);
    assert.match(j.isolation.levels.namespace.why!, /needs root/);
    assert.equal(j.isolation.levels.process.ok, true);
    const want = ['TEN_ERR_ISOLATION_NOT_ROOT', 'TEN_ERR_ISOLATION_UNAVAILABLE'];
    // nobody may not write the cgroup folders of this host (it is checked, not assumed)
    if (!j.controllers.memory.ok) want.push('TEN_ERR_ISOLATION_LIMIT_UNAVAILABLE');
    assert.deepEqual(j.problems.map((p) => p.code), want);
    assert.deepEqual(codes(r), want, 'one error line per problem on stderr');
    assert.match(r.stderr, /^error TEN_ERR_ISOLATION_NOT_ROOT: service\.api sets user or group, but ten serve runs as uid 65534, not root$/m);
    assert.match(r.stderr, /^error TEN_ERR_ISOLATION_UNAVAILABLE: isolation level namespace cannot run on this host: /m);
    assert.deepEqual(j.services.map((s) => [s.name, s.user, s.ok]), [['api', null, false], ['ns', null, false], ['lim', null, j.controllers.memory.ok]]);
  });

  test('the text: not root, and each missing mechanism with why and fix', async () => {
    const dir = configDir('[settings]\ndata_dir = "./data"\n');
    const r = await doctor(dir, [], true);
    assert.equal(r.code, 0, 'a config that asks for nothing gets it:\n' + r.stdout + r.stderr);
    assert.match(r.stdout, /^runs as +uid 65534, not root$/m);
    assert.match(r.stdout, /^ {2}-- {2}not root +apps run as this same user \(uid 65534\)/m);
    assert.match(r.stdout, /^ {2}no {2}namespace .*\n {15}why: .*needs root.*\n {15}fix: run ten serve as root$/m);
  });
});
