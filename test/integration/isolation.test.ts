// Isolation end to end (issue 10): a real `ten serve` as root runs test/fixtures/isolation-app.mjs
// at each level of linux-isolation and under cgroup limits, and the app reports from the inside
// what it sees and what the kernel refused it:
//  - namespace and sandbox: its /proc holds only its own processes; its host name is <id>.<service>;
//  - sandbox: no write outside its data dir and /tmp, a /tmp of its own, a writable data dir;
//  - memory_limit_mb: a memory hog is OOM-killed, reported as such, restarted;
//  - pids_limit: a fork bomb stays under the limit and ten serve keeps answering;
//  - cpu_limit: a busy loop is held to its share of a core (measured beside an unlimited one);
//  - every level, default user: the app runs as nobody and cannot read ten serve's secrets.
// A part the host cannot run (not root, no bwrap, no unshare, a cgroup controller missing) is
// skipped with the reason, probed as ten serve probes it. Every wait is bounded; ten serve (and
// with it every app) is stopped by cleanup(), the temp folders removed in after().
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cgroupTag, probeCgroups, type CgroupSupport, type Controller } from '../../core/index.ts';
import { levelSupport, type Level } from '../../plugins/linux-isolation/support.ts';
import { cleanup, request, ROOT, sleep, startTen, waitFor, type Ten } from './harness.ts';

const APP = join(ROOT, 'test/fixtures/isolation-app.mjs');
const ROOT_USER = process.getuid?.() === 0;
const NOBODY = 65534;
/** A variable only ten serve's environment has: no app may read it. */
const SECRET = { name: 'TEN_IT_ISOLATION_SECRET', value: `s3cret-${process.pid}-${Date.now()}` };
/** The service of each level (at every level: the default user, no limit). */
const LEVEL_SERVICE: Record<Level, string> = { process: 'proc', namespace: 'ns', sandbox: 'box' };
const LIMITS = { memory_limit_mb: 64, pids_limit: 32, cpu_limit: 0.2 };

/** What this host can run, probed as ten serve probes it (a throwaway cgroup tag, removed after). */
const levels = Object.fromEntries((['process', 'namespace', 'sandbox'] as const).map((l) => [l, levelSupport(l)])) as Record<Level, string | null>;
const probeTag = cgroupTag(`/nonexistent/tenement-isolation-test-${process.pid}`);
const cgroups: CgroupSupport = probeCgroups(probeTag);
const noController = (c: Controller): string | null => cgroups.controllers[c] ? null : `no ${c} cgroup controller here: ${cgroups.missing[c] ?? 'not found'}`;

interface View { key: string; state: string; pid: number | null; port: number | null; restarts: number; last_exit: { code: number | null; signal: string | null; reason?: string } | null }

/** The services, one per runnable level and per limit this host can enforce. */
function config(workdir: string, boxWorkdir: string): string {
  const svc = (name: string, extra: string, dir = workdir) => `[service.${name}]
args = [${JSON.stringify(process.execPath)}, ${JSON.stringify(APP)}]
workdir = ${JSON.stringify(dir)}
health = "/health"
stop_timeout = 2
startup_timeout = 15
${extra}
[service.${name}.env]
INSTANCE = "{name}:{id}"
`;
  const out = [`[settings]\nbackoff_base = 0.2\nbackoff_max = 1\nmax_restarts = 20\nhealth_interval = 30\n`];
  for (const level of ['process', 'namespace', 'sandbox'] as const) {
    if (levels[level] === null) out.push(svc(LEVEL_SERVICE[level], `isolation = "${level}"`, level === 'sandbox' ? boxWorkdir : workdir));
  }
  // operator mistakes that retrying cannot fix
  out.push(svc('nouser', 'user = "doesnotexist"'));
  out.push(svc('privwd', '', join(workdir, 'private', 'app')));
  // the layout of the example config: data_dir inside the workdir (both the config's folder)
  if (levels.sandbox === null) out.push(svc('boxhome', 'isolation = "sandbox"', '.'));
  if (!noController('memory')) out.push(svc('hog', `restart = "always"\nmemory_limit_mb = ${LIMITS.memory_limit_mb}`));
  if (!noController('pids')) out.push(svc('bomb', `restart = "never"\npids_limit = ${LIMITS.pids_limit}`));
  if (!noController('cpu')) out.push(svc('slow', `restart = "never"\ncpu_limit = ${LIMITS.cpu_limit}`), svc('spin', 'restart = "never"'));
  return out.join('\n');
}

describe('isolation against a real ten serve', { timeout: 120_000 }, () => {
  let ten: Ten | undefined;
  let dataDir: string;
  /** The services' workdir (root's, 0755) and the sandbox's (0777: only the sandbox stops a write). */
  let workdir: string;
  let boxWorkdir: string;

  before(async () => {
    if (!ROOT_USER) return; // every part needs root: each test says so
    workdir = mkdtempSync(join(tmpdir(), 'ten-it-isolation-workdir-'));
    chmodSync(workdir, 0o755);
    boxWorkdir = mkdtempSync(join(tmpdir(), 'ten-it-isolation-box-'));
    chmodSync(boxWorkdir, 0o777);
    // ten serve inherits the secret (harness launch() passes process.env on); the apps must not see it
    process.env[SECRET.name] = SECRET.value;
    try {
      ten = await startTen(config(workdir, boxWorkdir));
    } finally {
      delete process.env[SECRET.name];
    }
    // the apps run as nobody: they must pass through ten serve's folder to reach their data dirs
    chmodSync(ten.dir, 0o755);
    dataDir = join(ten.dir, 'data');
  });

  after(async () => {
    await cleanup();
    for (const d of [workdir, boxWorkdir]) if (d) rmSync(d, { recursive: true, force: true });
    // the folders the probe above made (empty: nothing ever ran in them)
    for (const h of new Set([cgroups.membership, ...Object.values(cgroups.controllers)])) {
      if (h) { try { rmdirSync(h.dir); } catch { /* busy or gone */ } }
    }
  });

  // -------------------------------------------------------------------------------------------
  // helpers

  async function view(service: string, id: string): Promise<View> {
    const r = await ten!.api('GET', `/api/instances/${service}/${id}`);
    assert.equal(r.status, 200, r.body);
    return r.json();
  }

  /** Spawn service:id through the API and wait until it runs. */
  async function spawnInstance(service: string, id: string): Promise<View> {
    const r = await ten!.api('POST', '/api/instances', { service, id });
    assert.equal(r.status, 201, r.body);
    return waitFor(`${service}:${id} running`, async () => {
      const v = await view(service, id);
      if (v.state === 'failed') assert.fail(`${service}:${id} failed: ${JSON.stringify(v.last_exit)}\n${ten!.output().slice(-3000)}`);
      return v.state === 'running' ? v : undefined;
    }, 20_000);
  }

  /** Stop and forget service:id (bounded); resolves with the view of its end. */
  async function removeInstance(service: string, id: string): Promise<View> {
    const r = await ten!.api('DELETE', `/api/instances/${service}/${id}`);
    assert.equal(r.status, 200, r.body);
    return r.json();
  }

  /** GET a path of the app itself (on its port, not through the proxy), as JSON. */
  async function app<T = any>(v: View, path: string): Promise<T> {
    const r = await request(v.port!, 'localhost', path, { timeoutMs: 15_000 });
    assert.equal(r.status, 200, `${v.key} ${path}: ${r.body}`);
    return r.json();
  }

  /** An instance's folder of a controller on the host: <mount>/<ten serve's cgroup>/tenement-<tag>/<service>.<id>. */
  const cgroupDir = (c: Controller, service: string, id: string) => join(dirname(cgroups.controllers[c]!.dir), cgroupTag(dataDir), `${service}.${id}`);
  const readNumber = (path: string) => Number(readFileSync(path, 'utf8').trim());
  const alive = (pid: number) => {
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^[ZX]$/.test(s.slice(s.lastIndexOf(')') + 2).split(' ')[0]);
    } catch {
      return false;
    }
  };
  const why = (...reasons: (string | null)[]) => (!ROOT_USER ? `ten serve runs as uid ${process.getuid?.()}, not root: it can only run apps as itself, without namespaces or cgroup limits` : reasons.find((r) => r !== null) ?? null);

  // -------------------------------------------------------------------------------------------

  test('namespace and sandbox: the app\'s /proc shows only its own processes, its host name is <id>.<service>', async (t) => {
    for (const level of ['namespace', 'sandbox'] as const) {
      await t.test(level, async (st) => {
        const skip = why(levels[level]);
        if (skip) return st.skip(skip);
        const service = LEVEL_SERVICE[level];
        const v = await spawnInstance(service, 'p');
        try {
          const { pids } = await app<{ pids: number[] }>(v, '/proc');
          const who = await app<{ pid: number; hostname: string }>(v, '/whoami');
          st.diagnostic(`${level}: the app's /proc lists ${JSON.stringify(pids)}; it is pid ${who.pid} inside (${v.pid} to the API); ten serve is ${ten!.child.pid}`);
          assert.ok(pids.length <= 4, `/proc lists ${pids.length} processes: ${JSON.stringify(pids)}`);
          for (const pid of pids) assert.ok(pid <= 10, `pid ${pid} in the app's /proc is not one of its own namespace's`);
          assert.ok(!pids.includes(ten!.child.pid!), 'ten serve is not in it');
          assert.ok(pids.includes(who.pid), 'the app is');
          assert.equal(who.hostname, `p.${service}`);
        } finally {
          await removeInstance(service, 'p');
        }
      });
    }
    await t.test('process (the contrast: the host\'s /proc)', async (st) => {
      const skip = why();
      if (skip) return st.skip(skip);
      const v = await spawnInstance('proc', 'p');
      try {
        const { pids } = await app<{ pids: number[] }>(v, '/proc');
        st.diagnostic(`process: the app's /proc lists ${pids.length} processes, ten serve (${ten!.child.pid}) among them`);
        assert.ok(pids.includes(ten!.child.pid!), 'at level process the app shares the host\'s /proc');
      } finally {
        await removeInstance('proc', 'p');
      }
    });
  });

  test('sandbox: no write outside the data dir and /tmp, a private /tmp per instance, a writable data dir', async (t) => {
    const skip = why(levels.sandbox);
    if (skip) return t.skip(skip);
    const a = await spawnInstance('box', 'a');
    const b = await spawnInstance('box', 'b');
    try {
      const mark = `ten-it-${process.pid}-${Date.now()}`;
      // its workdir is world-writable on the host: only the sandbox's read-only view stops the write
      for (const path of [join(boxWorkdir, mark), `/etc/${mark}`, `/usr/${mark}`]) {
        const w = await app<{ ok: boolean; code?: string }>(a, `/write?path=${encodeURIComponent(path)}`);
        t.diagnostic(`write ${path}: ${w.ok ? 'ok' : w.code}`);
        assert.equal(w.ok, false, `the sandboxed app wrote ${path}`);
        assert.ok(w.code === 'EROFS' || w.code === 'EACCES' || w.code === 'ENOENT', `write ${path}: ${w.code}`);
        assert.ok(!existsSync(path), `${path} exists on the host`);
      }
      // /tmp: its own — written, seen by it, not on the host, not in the other instance's
      const tmp = `/tmp/${mark}`;
      assert.deepEqual(await app(a, `/write?path=${encodeURIComponent(tmp)}`), { ok: true });
      assert.ok((await app<{ names: string[] }>(a, '/ls?path=/tmp')).names.includes(mark), 'a sees its own /tmp file');
      assert.ok(!existsSync(tmp), `${tmp} is on the host's /tmp`);
      const other = await app<{ ok: boolean; names: string[] }>(b, '/ls?path=/tmp');
      assert.ok(other.ok && !other.names.includes(mark), `box:b sees box:a's /tmp file: ${JSON.stringify(other)}`);
      assert.equal((await app<{ code?: string }>(b, `/read?path=${encodeURIComponent(tmp)}`)).code, 'ENOENT');
      // the data dir: writable, and the file is the host's, under data_dir/<service>/<id>
      const who = await app<{ env: Record<string, string> }>(a, '/whoami');
      assert.equal(who.env.DATA_DIR, join(dataDir, 'box', 'a'));
      assert.deepEqual(await app(a, `/write?path=${encodeURIComponent(join(who.env.DATA_DIR, 'hello.txt'))}`), { ok: true });
      assert.equal(readFileSync(join(dataDir, 'box', 'a', 'hello.txt'), 'utf8'), 'written by box:a\n');
    } finally {
      await removeInstance('box', 'a');
      await removeInstance('box', 'b');
    }
  });

  test('sandbox with data_dir inside its workdir (the example config\'s layout): data_dir is empty inside but for its own folders', async (t) => {
    if (!ROOT_USER) return t.skip('needs root');
    if (levels.sandbox !== null) return t.skip(`sandbox: ${levels.sandbox}`);
    mkdirSync(join(dataDir, 'boxhome', 'other'), { recursive: true });
    writeFileSync(join(dataDir, 'boxhome', 'other', 'secret.txt'), 'another instance\'s\n');
    const v = await spawnInstance('boxhome', 'a');
    try {
      const seen = async (path: string) => (await app<{ names?: string[]; code?: string }>(v, `/ls?path=${encodeURIComponent(path)}`));
      const read = async (path: string) => (await app<{ ok: boolean; code?: string }>(v, `/read?path=${encodeURIComponent(path)}`));
      assert.equal((await seen(dataDir)).code, 'EACCES', 'data_dir can be passed through, not listed (0711, as on the host)');
      // on the host, nobody gets EACCES for these (0600): inside they do not exist at all
      for (const f of ['api_token', 'tenement.db', 'logs.db']) assert.equal((await read(join(dataDir, f))).code, 'ENOENT', f);
      // on the host, nobody could read this one (0644 in 0755 folders): inside it does not exist
      assert.equal((await read(join(dataDir, 'boxhome', 'other', 'secret.txt'))).code, 'ENOENT', 'another instance\'s file');
      assert.ok((await read(join(ten!.dir, 'tenement.toml'))).ok, 'its workdir itself is there (read-only)');
      assert.deepEqual((await app<{ ok: boolean }>(v, `/write?path=${encodeURIComponent(join(dataDir, 'boxhome', 'a', 'mine.txt'))}`)).ok, true, 'its own data dir is writable');
    } finally {
      await removeInstance('boxhome', 'a');
    }
  });

  test('an unknown user, and a workdir under a folder the app\'s user cannot pass: failed at once, no restart loop, the reason says which', async (t) => {
    if (!ROOT_USER) return t.skip('needs root');
    mkdirSync(join(workdir, 'private', 'app'), { recursive: true });
    chmodSync(join(workdir, 'private'), 0o700);
    for (const [service, why] of [['nouser', /user doesnotexist: no such user/], ['privwd', /working directory .*private\/app, as uid 65534/]] as const) {
      const r = await ten!.api('POST', '/api/instances', { service, id: 'a' });
      t.diagnostic(`${service}: POST /api/instances → ${r.status} ${r.body.slice(0, 200)}`);
      const v = await waitFor(`${service}:a failed`, async () => { const w = await view(service, 'a'); return w.state === 'failed' ? w : undefined; }, 10_000);
      assert.equal(v.restarts, 0, `${service}: no restart`);
      assert.match(ten!.output(), why);
      await removeInstance(service, 'a');
    }
  });

  test(`memory_limit_mb = ${LIMITS.memory_limit_mb}: a memory hog (256 MiB, touched) is OOM-killed and restarted`, async (t) => {
    const skip = why(noController('memory'));
    if (skip) return t.skip(skip);
    const v = await spawnInstance('hog', 'a');
    const dir = cgroupDir('memory', 'hog', 'a');
    const v2 = cgroups.controllers.memory!.v2;
    assert.equal(readNumber(join(dir, v2 ? 'memory.max' : 'memory.limit_in_bytes')), LIMITS.memory_limit_mb * 1024 * 1024, `the limit in ${dir}`);
    /** The kernel's count of OOM kills, host-wide (proc(5) /proc/vmstat): the instance's own
     *  cgroup is removed as soon as its process has exited. */
    const oomKills = () => Number(/^oom_kill (\d+)$/m.exec(readFileSync('/proc/vmstat', 'utf8'))?.[1] ?? NaN);
    const oomBefore = oomKills();
    // the most the cgroup was charged, read while it exists (the hog takes a few hundred ms)
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try { peak = Math.max(peak, readNumber(join(dir, v2 ? 'memory.peak' : 'memory.max_usage_in_bytes'))); } catch { /* removed */ }
        await sleep(5);
      }
    })();
    try {
      const t0 = performance.now();
      // straight to the app, not through the proxy: a GET the proxy retried would hog again
      const answer = await new Promise<string>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: v.port!, path: '/hog?mb=256', agent: false }, (res) => {
          let body = '';
          res.on('data', (c) => { body += c; }).on('end', () => resolve(`answered ${res.statusCode} ${body}`)).on('error', (e) => resolve(e.message));
        });
        req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
        req.on('error', (e) => resolve(e.message));
      });
      assert.doesNotMatch(answer, /^answered/, 'the hog got its 256 MiB under a 64 MiB limit');
      const again = await waitFor('hog:a running again with a new pid', async () => {
        const w = await view('hog', 'a');
        return w.state === 'running' && w.pid !== v.pid ? w : undefined;
      }, 15_000);
      sampling = false;
      await sampler;
      const events = (await ten!.api('GET', '/api/logs?service=hog&id=a&stream=event&limit=100')).json().lines as { message: string }[];
      t.diagnostic(`hog:a: killed and running again ${(performance.now() - t0).toFixed(0)} ms after asking for 256 MiB (the request: ${answer}); the cgroup's peak charge ${(peak / 2 ** 20).toFixed(1)} MiB; OOM kills on the host: ${oomBefore} → ${oomKills()}`);
      t.diagnostic(`last exit as the API reports it: ${JSON.stringify(again.last_exit)}; events: ${events.map((l) => l.message).join(' | ')}`);
      assert.equal(again.last_exit?.signal, 'SIGKILL', `last exit ${JSON.stringify(again.last_exit)}`);
      assert.ok(oomKills() > oomBefore, 'the kernel counted an OOM kill');
      assert.ok(peak > 0 && peak <= LIMITS.memory_limit_mb * 1024 * 1024, `the cgroup was charged at most ${peak} bytes`);
      assert.equal(again.restarts, 1);
      // reported as an OOM kill, not as a plain SIGKILL: the exit's reason, the event, the log line
      assert.equal(again.last_exit?.reason, `killed by the kernel's OOM killer (memory_limit_mb = ${LIMITS.memory_limit_mb} reached)`);
      assert.ok(events.some((l) => l.message === `oom: killed by the kernel's OOM killer: memory_limit_mb = ${LIMITS.memory_limit_mb}`), 'the oom event');
      assert.match(ten!.output(), /"instance":"hog:a"[^\n]*"oom":true/, 'ten serve\'s log line says oom');
      const who = await app<{ pid: number }>(again, '/whoami');
      assert.deepEqual(await app(again, '/'), { instance: 'hog:a', pid: who.pid }, 'the restarted app serves');
    } finally {
      sampling = false;
      await sampler;
      await removeInstance('hog', 'a');
    }
  });

  test(`pids_limit = ${LIMITS.pids_limit}: a fork bomb stays under the limit, ten serve keeps answering, a stop ends it all`, async (t) => {
    const skip = why(noController('pids'));
    if (skip) return t.skip(skip);
    const v = await spawnInstance('bomb', 'a');
    const dir = cgroupDir('pids', 'bomb', 'a');
    assert.equal(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), String(LIMITS.pids_limit), `pids.max of ${dir}`);
    const seen = new Set<number>();
    let maxCurrent = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          maxCurrent = Math.max(maxCurrent, readNumber(join(dir, 'pids.current')));
          for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) seen.add(Number(p));
        } catch { /* removed at the end */ }
        await sleep(20);
      }
    })();
    try {
      const bomb = app<{ spawned: number; failed: number; errors: Record<string, number> }>(v, '/bomb?ms=4000');
      // ten serve answers meanwhile, each call well within 2 s
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        await sleep(500);
        const t0 = performance.now();
        const r = await ten!.api('GET', '/api/instances');
        latencies.push(performance.now() - t0);
        assert.equal(r.status, 200);
      }
      const result = await bomb;
      const peak = existsSync(join(dir, 'pids.peak')) ? readNumber(join(dir, 'pids.peak')) : maxCurrent;
      const refused = Number(/^max (\d+)/m.exec(readFileSync(join(dir, 'pids.events'), 'utf8'))?.[1] ?? 0);
      t.diagnostic(`fork bomb for 4 s: ${result.spawned} children spawned, ${result.failed} refused (${JSON.stringify(result.errors)}); pids.peak ${peak}, most sampled pids.current ${maxCurrent} (limit ${LIMITS.pids_limit}, threads count), pids.events max ${refused}; GET /api/instances meanwhile: ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`);
      assert.ok(result.failed > 0 && refused > 0, 'the limit refused forks');
      assert.ok(peak <= LIMITS.pids_limit, `pids.peak ${peak}`);
      assert.ok(maxCurrent <= LIMITS.pids_limit, `pids.current reached ${maxCurrent}`);
      for (const l of latencies) assert.ok(l < 2000, `GET /api/instances took ${l.toFixed(0)} ms during the fork bomb`);
      assert.equal((await view('bomb', 'a')).state, 'running', 'the app itself still runs');
      const t0 = performance.now();
      await removeInstance('bomb', 'a');
      t.diagnostic(`stop of the bombed instance: ${(performance.now() - t0).toFixed(0)} ms; ${seen.size} processes seen in its cgroup`);
      await waitFor('every process of the bomb gone', () => [...seen].every((p) => !alive(p)), 3000)
        .catch(() => assert.fail(`alive after the stop: ${[...seen].filter(alive).join(', ')}`));
      assert.ok(!existsSync(dir) || readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() === '', 'its cgroup is empty');
    } finally {
      sampling = false;
      await sampler;
      await ten!.api('DELETE', '/api/instances/bomb/a');
    }
  });

  test(`cpu_limit = ${LIMITS.cpu_limit}: a busy loop is held to about ${LIMITS.cpu_limit * 100} % of a core (beside the same loop without a limit)`, async (t) => {
    const skip = why(noController('cpu'));
    if (skip) return t.skip(skip);
    const slow = await spawnInstance('slow', 'a');
    const spin = await spawnInstance('spin', 'a');
    try {
      /** CPU seconds of an instance's processes: its cpuacct cgroup, else its tree's /proc/<pid>/stat. */
      const cpu = (service: string, v: View): number => {
        if (cgroups.controllers.cpuacct) return readNumber(join(cgroupDir('cpuacct', service, 'a'), 'cpuacct.usage')) / 1e9;
        // utime + stime (fields 14 and 15) in clock ticks, 100 a second on Linux
        return treeOf(v.pid!).reduce((sum, pid) => {
          let s = '';
          try { s = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return sum; }
          const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
          return sum + (Number(f[11]) + Number(f[12])) / 100;
        }, 0);
      };
      await app(slow, '/spin');
      await app(spin, '/spin');
      await sleep(300); // both loops under way
      const before = { slow: cpu('slow', slow), spin: cpu('spin', spin), t: performance.now() };
      await sleep(3000);
      const secs = (performance.now() - before.t) / 1000;
      const pct = { slow: (cpu('slow', slow) - before.slow) / secs * 100, spin: (cpu('spin', spin) - before.spin) / secs * 100 };
      // the figure without a limit depends on what else this host runs (its load average): printed, not checked
      t.diagnostic(`busy loop over ${secs.toFixed(2)} s: with cpu_limit = ${LIMITS.cpu_limit}: ${pct.slow.toFixed(1)} % of a core; without a limit: ${pct.spin.toFixed(1)} % (${cpus().length} cores, load average ${loadavg()[0].toFixed(1)})`);
      assert.ok(pct.slow >= 10 && pct.slow <= 30, `with cpu_limit = ${LIMITS.cpu_limit}: ${pct.slow.toFixed(1)} % of a core`);
    } finally {
      await removeInstance('slow', 'a');
      await removeInstance('spin', 'a');
    }
  });

  test('every level, ten serve as root, the default user: the app runs as nobody and cannot read api_token, tenement.db or ten serve\'s environ', async (t) => {
    for (const level of ['process', 'namespace', 'sandbox'] as const) {
      await t.test(level, async (st) => {
        const skip = why(levels[level]);
        if (skip) return st.skip(skip);
        const service = LEVEL_SERVICE[level];
        const v = await spawnInstance(service, 's');
        try {
          const who = await app<{ uid: number; gid: number; env: Record<string, string> }>(v, '/whoami');
          assert.equal(who.uid, NOBODY, 'the app runs as nobody');
          assert.equal(who.env[SECRET.name], undefined, 'ten serve\'s environment is not passed on');
          const mine = statSync(join(dataDir, service, 's'));
          assert.equal(mine.mode & 0o777, 0o700, 'its data dir is 0700');
          assert.equal(mine.uid, NOBODY, 'and owned by nobody');
          assert.equal(statSync(dataDir).mode & 0o777, 0o711, '{data_dir} is 0711: passable, not listable');
          const secrets = [join(dataDir, 'api_token'), join(dataDir, 'tenement.db'), `/proc/${ten!.child.pid}/environ`];
          assert.ok(readFileSync(secrets[2], 'latin1').includes(`${SECRET.name}=${SECRET.value}`), 'ten serve\'s environ holds the secret (seen by root)');
          const results: string[] = [];
          for (const path of secrets) {
            const r = await app<{ ok: boolean; code?: string; bytes?: number }>(v, `/read?path=${encodeURIComponent(path)}`);
            results.push(`${path}: ${r.ok ? `READ ${r.bytes} bytes` : r.code}`);
            assert.equal(r.ok, false, `the app read ${path}`);
            if (level === 'process') assert.equal(r.code, 'EACCES', `${path}: file modes refuse it`);
            else assert.ok(r.code === 'EACCES' || r.code === 'ENOENT', `${path}: ${r.code}`);
          }
          st.diagnostic(`${level}, uid ${who.uid}: ${results.join('; ')}`);
        } finally {
          await removeInstance(service, 's');
        }
      });
    }
  });
});

/** The host pids of `root` and its descendants (from /proc's ppid fields). */
function treeOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch { /* gone */ }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}
