// Tenants benchmark (npm run bench): what 10,000 registered instances cost, next to 10 in the same
// run. Two real `ten serve` children (test/integration/harness.ts startTen), one service `svc`
// (bench/upstream.mjs, spawn_on_request = true, max_instances = 10000):
//   small  10 registered instances, all 10 running ([instances] svc = [10 ids])
//   large  10,000 registered, 200 running: the store's SQLite file is pre-filled with 10,000 rows
//          (core/store.ts, one transaction) and [instances] lists 200 of them. restoreInstances()
//          brings stored instances of a spawn_on_request service back asleep (`idle`) unless the
//          config lists them, so 9,800 are registered and idle and 200 start at boot: the
//          cheapest honest way to 10,000 registered instances (no 10,000 processes, no 10,000
//          API calls; the same path a real restart takes). Of the 200 running, the first 10 have
//          weight 100 and the other 190 weight 0 (stored so), so the balanced route spreads over
//          10 upstream processes on both servers and the comparison is the registry's, not the
//          fan-out's (TENANTS_POOL=200 balances over all 200 instead).
// Measured:
//   (a) routing with 10 vs 10,000 registered: wrk -t2 -c50 req/s and p50 on the balanced route
//       (svc.localhost) and a direct route (t00000.svc.localhost), interleaved rounds (shuffled), both
//       servers up at once; plus ten serve's CPU per request.
//   (b) `ten ps` (the binary users run: bin/ten.js ps, which runs the bundle `npm install` built
//       in dist/) and the raw GET /api/instances, wall
//       time, against both servers. Target: < 300 ms with 10,000.
//   (c) ten serve's start time to the first 200 on /health (polled every 5 ms), with 10 stored
//       (10 start), 10,000 stored (none starts: the registry's restore alone) and 10,000 stored
//       (200 start), default log level; also to all instances running, and the stop. Target:
//       < 2 s with 10,000.
// Prints markdown tables, writes bench/results/tenants.json. Knobs: TENANTS_REGISTERED (10000),
// TENANTS_RUNNING (200), TENANTS_POOL (10: running instances with a weight), TENANTS_ROUNDS (3),
// TENANTS_DURATION (5 s), TENANTS_BOOTS (3), TENANTS_PS (5).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../core/net.ts';
import { Store } from '../core/store.ts';
import { cleanup, request, rmDir, ROOT, sleep, startTen, waitFor, type Ten } from '../test/integration/harness.ts';
import { runBench } from './lifecycle.ts';
import { cpuTicks, parseWrk, runWrk, shuffled } from './wrk.ts';

const REGISTERED = Number(process.env.TENANTS_REGISTERED ?? 10_000);
const RUNNING = Number(process.env.TENANTS_RUNNING ?? 200);
const SMALL = 10;
const POOL = Math.min(RUNNING, Number(process.env.TENANTS_POOL ?? SMALL));
const ROUNDS = Number(process.env.TENANTS_ROUNDS ?? 3);
const DURATION = Number(process.env.TENANTS_DURATION ?? 5);
const BOOTS = Number(process.env.TENANTS_BOOTS ?? 3);
const PS_RUNS = Number(process.env.TENANTS_PS ?? 5);
const TARGET_PS_MS = 300;
const TARGET_BOOT_MS = 2000;
const BODY = 'hello, bench\n';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const TSX = import.meta.resolve('tsx');
const MAIN = join(ROOT, 'cli/main.ts');
const BIN = join(ROOT, 'bin/ten.js');

/** Run the `ten` binary (bin/ten.js) against a server; resolves with its exit code and output. */
function tenBinary(t: Ten, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, TENEMENT_SERVER: `http://127.0.0.1:${t.port}`, TENEMENT_TOKEN: t.token }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const id = (i: number) => `t${String(i).padStart(5, '0')}`;
const ids = (n: number) => Array.from({ length: n }, (_, i) => id(i));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x: number) => x.toFixed(0);

function config(instances: string[]): string {
  return `[settings]\nhealth_interval = 60\n` +
    `[service.svc]\nargs = ${JSON.stringify([process.execPath, join(ROOT, 'bench/upstream.mjs')])}\nhealth = "/health"\n` +
    `spawn_on_request = true\nmax_instances = ${Math.max(10, REGISTERED)}\n` +
    (instances.length ? `[instances]\nsvc = ${JSON.stringify(instances)}\n` : '');
}

/** The config file startTen wrote, with its [instances] replaced (startTen's settings kept). */
function rewriteInstances(ten: Ten, instances: string[]): void {
  const text = readFileSync(ten.configPath, 'utf8');
  const head = text.includes('[instances]') ? text.slice(0, text.indexOf('[instances]')) : text;
  writeFileSync(ten.configPath, `${head.trimEnd()}\n[instances]\nsvc = ${JSON.stringify(instances)}\n`);
}

interface View { id: string; state: string }
const views = async (ten: Ten): Promise<View[]> => (await ten.api('GET', '/api/instances?service=svc')).json().instances;

async function allRunning(ten: Ten, n: number, what: string): Promise<void> {
  await waitFor(`${what}: ${n} instances running`, async () => (await views(ten).catch(() => [])).filter((v) => v.state === 'running').length >= n, 180_000);
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

function wrk(port: number, host: string, seconds: number): Promise<string> {
  return runWrk(['-t2', '-c50', `-d${seconds}s`, '--latency', '-H', `Host: ${host}`, `http://127.0.0.1:${port}/`], seconds);
}

/** One GET /health on 127.0.0.1:port, without keep-alive; true on a 200. */
function health(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', headers: { host: 'localhost' }, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

interface Boot { healthMs: number; runningMs: number; stopMs: number }

/** Timed ten serve children not (yet) stopped: killed on Ctrl-C. */
const booting = new Set<ChildProcess>();

/** Start ten serve on `ten`'s dir and config (it must be stopped), time it, stop it again. */
async function timedBoot(ten: Ten, running: number): Promise<Boot> {
  const port = await freePort(new Set([ten.port]));
  let out = '';
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', TSX, MAIN, 'serve', '--config', ten.configPath, '--port', String(port)], {
    cwd: ten.dir, env: { ...process.env, TENEMENT_LOG_PRETTY: '0', TENEMENT_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer) => { out = (out + d).slice(-4000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  booting.add(child);
  const exit = new Promise<void>((r) => child.once('exit', () => { exited = true; booting.delete(child); r(); }));
  try {
    for (;;) {
      if (exited) throw new Error(`ten serve exited during boot:\n${out}`);
      if (await health(port)) break;
      if (performance.now() - t0 > 60_000) throw new Error(`ten serve did not answer /health within 60 s:\n${out}`);
      await sleep(5);
    }
    const healthMs = performance.now() - t0;
    const token = readFileSync(join(ten.dir, 'data', 'api_token'), 'utf8').trim();
    await waitFor(`boot: ${running} running`, async () => {
      const r = await request(port, 'localhost', '/api/instances?service=svc', { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
      return r?.status === 200 && (r.json().instances as View[]).filter((v) => v.state === 'running').length >= running;
    }, 180_000);
    const runningMs = performance.now() - t0;
    const s0 = performance.now();
    child.kill('SIGTERM');
    await exit;
    return { healthMs, runningMs, stopMs: performance.now() - s0 };
  } finally {
    if (!exited) { child.kill('SIGKILL'); await exit; }
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

async function main(): Promise<void> {
  try { execFileSync('sh', ['-c', 'command -v wrk']); } catch { throw new Error('wrk is not installed: run bench/run.sh (npm run bench), which installs it'); }
  const load0 = loadavg();
  const t00 = performance.now();
  const step = (s: string) => console.error(`tenants bench: ${s} (${((performance.now() - t00) / 1000).toFixed(0)} s)`);

  // small: 10 registered, 10 running
  let small = await startTen(config(ids(SMALL)));
  await allRunning(small, SMALL, 'small');
  step(`small server up: ${SMALL} registered, ${SMALL} running`);

  // large: first boot without instances (creates the store), then the store is filled while it is down
  let large = await startTen(config([]));
  await large.stop();
  const store = new Store(join(large.dir, 'data'));
  // running instances past the first POOL get weight 0: reachable by their direct route only
  store.putWeights(ids(REGISTERED).map((i, n) => ['svc', i, n >= POOL && n < RUNNING ? 0 : 100] as const));
  const stored = store.listInstances().length;
  store.close();
  rewriteInstances(large, ids(RUNNING));
  step(`store filled: ${stored} instances`);

  // (c) start time, both servers stopped, boots alternating
  await small.stop();
  const boots: Record<'small' | 'largeIdle' | 'large', Boot[]> = { small: [], largeIdle: [], large: [] };
  for (let r = 0; r < BOOTS; r++) {
    boots.small.push(await timedBoot(small, SMALL));
    rewriteInstances(large, []);
    boots.largeIdle.push(await timedBoot(large, 0));
    rewriteInstances(large, ids(RUNNING));
    boots.large.push(await timedBoot(large, RUNNING));
    step(`boot round ${r + 1}: to /health, small ${ms(boots.small[r].healthMs)} ms, large with none started ` +
      `${ms(boots.largeIdle[r].healthMs)} ms, large ${ms(boots.large[r].healthMs)} ms`);
  }
  small = await small.restart();
  large = await large.restart();
  await allRunning(small, SMALL, 'small');
  await allRunning(large, RUNNING, 'large');
  const registered = { small: (await views(small)).length, large: (await views(large)).length };
  const states = (vs: View[]) => Object.entries(vs.reduce<Record<string, number>>((m, v) => ({ ...m, [v.state]: (m[v.state] ?? 0) + 1 }), {}))
    .map(([k, n]) => `${n} ${k}`).join(', ');
  const largeStates = states(await views(large));
  step(`both servers up: small ${registered.small} registered, large ${registered.large} registered (${largeStates})`);
  for (const t of [small, large]) {
    for (const host of ['svc.localhost', `${id(0)}.svc.localhost`]) {
      const r = await t.get(host, '/');
      if (r.status !== 200 || r.body !== BODY) throw new Error(`${host} answered ${r.status}: ${r.body.slice(0, 200)}`);
    }
  }

  // (b) ten ps and GET /api/instances
  const ps: Record<'small' | 'large', { cli: number[]; api: number[]; bytes: number; lines: number }> = {
    small: { cli: [], api: [], bytes: 0, lines: 0 }, large: { cli: [], api: [], bytes: 0, lines: 0 },
  };
  for (let r = 0; r < PS_RUNS; r++) {
    for (const [k, t] of [['small', small], ['large', large]] as const) {
      const [cliMs, out] = await timed(() => tenBinary(t, ['ps']));
      if (out.code !== 0) throw new Error(`ten ps failed (${out.code}): ${out.stderr}`);
      ps[k].cli.push(cliMs);
      ps[k].lines = out.stdout.trim().split('\n').length;
      for (let i = 0; i < 2; i++) {
        const [apiMs, res] = await timed(() => t.api('GET', '/api/instances'));
        if (res.status !== 200) throw new Error(`GET /api/instances answered ${res.status}`);
        ps[k].api.push(apiMs);
        ps[k].bytes = Buffer.byteLength(res.body);
      }
    }
  }
  step('ten ps timed');

  // (a) wrk, interleaved rounds
  const targets = [
    { key: 'small-balanced', label: `${SMALL} registered, balanced \`svc.localhost\``, ten: small, host: 'svc.localhost' },
    { key: 'large-balanced', label: `${REGISTERED.toLocaleString('en')} registered, balanced \`svc.localhost\``, ten: large, host: 'svc.localhost' },
    { key: 'small-direct', label: `${SMALL} registered, direct \`${id(0)}.svc.localhost\``, ten: small, host: `${id(0)}.svc.localhost` },
    { key: 'large-direct', label: `${REGISTERED.toLocaleString('en')} registered, direct \`${id(0)}.svc.localhost\``, ten: large, host: `${id(0)}.svc.localhost` },
  ];
  for (const t of targets) await wrk(t.ten.port, t.host, 2); // warm-up
  const runs: Record<string, Array<{ rps: number; p50: number; p99: number; cpuUsPerReq: number; errors: number; non2xx: number }>> =
    Object.fromEntries(targets.map((t) => [t.key, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of shuffled(targets, r + 1)) {
      const pid = t.ten.child.pid!;
      const c0 = cpuTicks(pid);
      const w = parseWrk(await wrk(t.ten.port, t.host, DURATION).catch((err: Error) => {
        const code = t.ten.child.exitCode ?? t.ten.child.signalCode;
        throw new Error(`${t.key}: ${err.message}\nten serve ${code === null ? 'still running' : `exited with ${code}`}; its output ends with:\n${t.ten.output().slice(-3000)}`);
      }));
      runs[t.key].push({ ...w, cpuUsPerReq: ((cpuTicks(pid) - c0) / CLK_TCK) * 1e6 / Math.max(1, w.requests) });
      console.error(`  round ${r + 1} ${t.key}: ${w.rps.toFixed(0)} req/s, p50 ${w.p50.toFixed(2)} ms` +
        (w.errors || w.non2xx ? `, ${w.errors} socket errors, ${w.non2xx} non-2xx` : ''));
      await sleep(500);
    }
  }
  const rss = { small: rssMb(small.child.pid!), large: rssMb(large.child.pid!) };
  const rows = targets.map((t) => {
    const rs = runs[t.key];
    return { key: t.key, label: t.label, rps: median(rs.map((x) => x.rps)), rpsMin: Math.min(...rs.map((x) => x.rps)), rpsMax: Math.max(...rs.map((x) => x.rps)),
      p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), cpuUsPerReq: median(rs.map((x) => x.cpuUsPerReq)),
      errors: rs.reduce((s, x) => s + x.errors, 0), non2xx: rs.reduce((s, x) => s + x.non2xx, 0) };
  });
  const by = (k: string) => rows.find((r) => r.key === k)!;

  console.log(`\n## Tenants: ${SMALL} vs ${REGISTERED.toLocaleString('en')} registered instances (${RUNNING} of them running), same run\n`);
  console.log(`(a) wrk -t2 -c50, ${ROUNDS} interleaved rounds × ${DURATION} s, medians; both ten serve up at once` +
    ` (large: ${largeStates}; ten serve RSS: small ${rss.small.toFixed(0)} MB, large ${rss.large.toFixed(0)} MB)\n`);
  console.log('| route | req/s | min – max | p50 ms | p99 ms | ten serve CPU µs / request | req/s vs 10 registered |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const base = by(r.key.replace('large', 'small'));
    console.log(`| ${r.label} | ${r.rps.toFixed(0)} | ${r.rpsMin.toFixed(0)} – ${r.rpsMax.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuUsPerReq.toFixed(1)} | ${(r.rps / base.rps).toFixed(2)} |`);
  }
  console.log(`\nThe balanced route spreads over ${SMALL} upstream processes on the small server and ${POOL} on the large one` +
    ` (its other ${RUNNING - POOL} running instances have weight 0); the direct route reaches one instance on both.`);
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const psL = median(ps.large.cli);
  const apiL = median(ps.large.api);
  console.log(`\n(b) \`ten ps\` and GET /api/instances, wall time, median of ${PS_RUNS} CLI runs and ${2 * PS_RUNS} API calls\n`);
  console.log(`| | ${SMALL} registered | ${REGISTERED.toLocaleString('en')} registered | target (${REGISTERED.toLocaleString('en')}) | |`);
  console.log('|---|---|---|---|---|');
  console.log(`| \`ten ps\` (bin/ten.js ps), ms | ${ms(median(ps.small.cli))} | ${ms(psL)} | < ${TARGET_PS_MS} | ${verdict(psL < TARGET_PS_MS)} |`);
  console.log(`| GET /api/instances, ms | ${median(ps.small.api).toFixed(1)} | ${apiL.toFixed(1)} | < ${TARGET_PS_MS} | ${verdict(apiL < TARGET_PS_MS)} |`);
  console.log(`| answer size, bytes / ps lines | ${ps.small.bytes} / ${ps.small.lines} | ${ps.large.bytes} / ${ps.large.lines} | | |`);
  for (const [k, n] of [['small', registered.small], ['large', registered.large]] as const) {
    if (ps[k].lines !== n + 1) {
      console.log(`\nWARNING: \`ten ps\` printed ${ps[k].lines} lines for ${n} instances (a header and one line each expected):` +
        ' its output into a pipe was cut short.');
    }
  }
  const bootL = median(boots.large.map((b) => b.healthMs));
  console.log(`\n(c) \`ten serve\` start to the first 200 on /health (polled every 5 ms), median of ${BOOTS} boots each, alternating\n`);
  console.log('| stored instances | to /health 200, ms | to all running, ms | stop (SIGTERM to exit), ms | target | |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| ${SMALL} (all ${SMALL} start) | ${ms(median(boots.small.map((b) => b.healthMs)))} | ${ms(median(boots.small.map((b) => b.runningMs)))} | ${ms(median(boots.small.map((b) => b.stopMs)))} | | |`);
  console.log(`| ${stored.toLocaleString('en')} (none starts, all idle) | ${ms(median(boots.largeIdle.map((b) => b.healthMs)))} | — | ${ms(median(boots.largeIdle.map((b) => b.stopMs)))} | | |`);
  console.log(`| ${stored.toLocaleString('en')} (${RUNNING} start, ${(stored - RUNNING).toLocaleString('en')} idle) | ${ms(bootL)} | ${ms(median(boots.large.map((b) => b.runningMs)))} | ${ms(median(boots.large.map((b) => b.stopMs)))} | < ${TARGET_BOOT_MS} to /health | ${verdict(bootL < TARGET_BOOT_MS)} |`);
  const bad = rows.filter((r) => r.errors || r.non2xx);
  console.log(`\n${cpus().length} cores; load average before: ${load0.map((l) => l.toFixed(2)).join(' ')}` +
    (bad.length ? `; ERRORS: ${bad.map((r) => `${r.key} ${r.errors} socket errors, ${r.non2xx} non-2xx`).join('; ')}` : '; no socket errors, no non-2xx'));

  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/tenants.json'), JSON.stringify({
    date: new Date().toISOString(), cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgBefore: load0, loadavgAfter: loadavg(),
    registered: { small: registered.small, large: registered.large, stored }, running: { small: SMALL, large: RUNNING }, balancedPool: { small: SMALL, large: POOL }, largeStates, rssMb: rss,
    wrk: { threads: 2, connections: 50, durationS: DURATION, rounds: ROUNDS }, rows, runs, ps, boots,
    targets: { psMs: TARGET_PS_MS, bootMs: TARGET_BOOT_MS },
  }, null, 2));
  await Promise.all([small.stop(), large.stop()]);
  rmDir(small.dir);
  rmDir(large.dir);
}

runBench(main, async () => {
  for (const c of booting) c.kill('SIGTERM');
  await cleanup();
});
