// Proxy benchmark (npm run bench): throughput and latency of tenement's reverse proxy, measured
// with wrk next to its peers in the same run, against one and the same upstream process:
//   direct    the upstream app hit without a proxy (the physical limit)
//   tenement  a real `ten serve` child, by Host v1.api.localhost (direct route), api.localhost
//             (balanced route) and apisock.localhost (balanced route to a second service with
//             `listen = "socket"`: its instance, another bench/upstream.mjs, listens on the Unix
//             socket $SOCKET_PATH; skipped with the reason printed when the config loader or the
//             core does not take it)
//   nginx     nginx from Debian as a reverse proxy (keepalive upstream block, 1 worker)
//   undici    a bare node:http + undici Pool script (bench/undici-proxy.mjs)
//   bare      a bare http-proxy-3 script with a keep-alive agent (bench/bare-proxy.mjs)
//   raw       for reference, a minimal node:http proxy without a library (bench/raw-proxy.mjs)
// The upstream is bench/upstream.mjs, started by tenement as instance api:v1; the other targets
// are pointed at that instance's port. Two passes: `wrk -t2 -c50` (throughput, latency under
// load) and `wrk -t1 -c1` (the latency one hop adds when nothing queues). In each, rounds are
// interleaved (each round runs every target once, in an order shuffled per round with a fixed
// seed, so that no target always runs right after the same other one) and every run has the same
// duration. Next to wrk's figures: the CPU time (utime + stime from /proc, all
// threads) the proxy process(es) and the upstream spent per request. wrk, the proxy and the
// upstream share the machine's cores. Everything runs on 127.0.0.1 and is stopped at the end, also
// on error or Ctrl-C. Needs `wrk` and `nginx` on PATH (bench/run.sh installs them). Prints markdown
// tables and the issue's targets (PASS/MISS), writes bench/results/proxy.json and the chart
// docs/benchmarks-proxy.svg. Knobs: PROXY_ROUNDS, PROXY_DURATION, PROXY_WARMUP, PROXY_CONNECTIONS,
// PROXY_C1_DURATION (0 skips the one-connection pass), PROXY_NGINX_WORKERS, PROXY_CPU_PROF=1 (run
// `ten serve` under the V8 sampling profiler, bench/cpu-prof.mjs, and print its top self-time
// functions; its figures are then taken under the profiler, so the chart is not written).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from '../core/net.ts';
import { cleanup, request, ROOT, sleep, startTen, waitFor, type Ten } from '../test/integration/harness.ts';
import { runBench } from './lifecycle.ts';
import { barChartSvg, type Bar, type Panel } from './chart.ts';
import { cpuTicks, parseWrk, runWrk, shuffled, type WrkResult } from './wrk.ts';
import { profileMarkdown, summariseProfile } from './profile.ts';

// PROXY_* so that they do not collide with wake.ts's ROUNDS when npm run bench runs both
const DURATION = Number(process.env.PROXY_DURATION ?? 4); // seconds per measured run
const WARMUP = Number(process.env.PROXY_WARMUP ?? 3); // seconds of unmeasured load per target, once
const ROUNDS = Number(process.env.PROXY_ROUNDS ?? 5);
const THREADS = 2;
const CONNECTIONS = Number(process.env.PROXY_CONNECTIONS ?? 50);
const C1_DURATION = Number(process.env.PROXY_C1_DURATION ?? 3); // the one-connection pass; 0 skips it
const NGINX_WORKERS = process.env.PROXY_NGINX_WORKERS ?? '1';
const CPU_PROF = process.env.PROXY_CPU_PROF === '1';
const BODY = 'hello, bench\n';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

interface Target {
  key: string;
  label: string;
  port: number;
  host: string;
  /** Processes whose CPU time counts as the proxy's (none for direct). */
  proxyPids: () => number[];
  /** The upstream process this target reaches. */
  upstreamPid: number;
}
interface Load { threads: number; connections: number; seconds: number }
interface Run extends WrkResult { round: number; proxyCpuUsPerReq: number | null; upstreamCpuUsPerReq: number }

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------- processes, stopped at the end
const stops: Array<() => Promise<void>> = [];
let tmp: string | undefined;
/** ten serve's temp dir (config, data_dir, instance logs): removed at the end. */
let tenDir: string | undefined;

/** Stop a child: SIGTERM, then SIGKILL after 5 s (to its children too: nginx's workers). */
function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => {
      for (const pid of childrenOf(child.pid!)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      child.kill('SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(t);
  };
}

async function stopAll(): Promise<void> {
  await Promise.all(stops.splice(0).reverse().map((s) => s().catch(() => undefined)));
  await cleanup(); // ten serve (which stops the upstream instance)
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  if (tenDir) rmSync(tenDir, { recursive: true, force: true });
}

/** Start a long-running child and wait until `ready()` holds; its output is kept for errors. */
async function startChild(what: string, argv: string[], env: NodeJS.ProcessEnv, ready: () => Promise<boolean>): Promise<ChildProcess> {
  let out = '';
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  stops.push(stopper(child));
  await waitFor(what, async () => {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}:\n${out}`);
    return ready();
  }, 15_000);
  return child;
}

const answers = (port: number) => () => request(port, 'v1.api.localhost', '/', { timeoutMs: 2000 })
  .then((r) => r.status === 200 && r.body === BODY, () => false);

// ---------------------------------------------------------------- CPU time from /proc

function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

const ticksOf = (pids: number[]) => pids.reduce((s, p) => s + cpuTicks(p), 0);

// ---------------------------------------------------------------- wrk
function wrk(t: Target, { threads, connections, seconds }: Load): Promise<string> {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `Host: ${t.host}`, `http://127.0.0.1:${t.port}/`];
  return runWrk(args, seconds, (child) => {
    const stop = stopper(child);
    stops.push(stop);
    return () => { stops.splice(stops.indexOf(stop), 1); };
  });
}

async function measure(t: Target, load: Load, round: number): Promise<Run> {
  const pp = t.proxyPids();
  const p0 = ticksOf(pp);
  const upstreamPid = t.upstreamPid;
  const u0 = cpuTicks(upstreamPid);
  const r = parseWrk(await wrk(t, load));
  const perReq = (ticks: number) => (ticks / CLK_TCK) * 1e6 / Math.max(1, r.requests);
  return {
    ...r, round,
    proxyCpuUsPerReq: pp.length ? perReq(ticksOf(pp) - p0) : null,
    upstreamCpuUsPerReq: perReq(cpuTicks(upstreamPid) - u0),
  };
}

// ---------------------------------------------------------------- nginx
function nginxConf(dir: string, port: number, upstreamPort: number): string {
  return `# written by bench/proxy.ts
worker_processes ${NGINX_WORKERS};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy_temp;
  fastcgi_temp_path ${dir}/fastcgi_temp;
  uwsgi_temp_path ${dir}/uwsgi_temp;
  scgi_temp_path ${dir}/scgi_temp;
  # Node's server and tenement keep a client connection for any number of requests: so does nginx
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # the same forwarding headers tenement and the Node peers add
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
}
`;
}

// ---------------------------------------------------------------- main
/** The issue's targets for the balanced route (issue 7), all from the same run. */
const GOALS = { vsNginx: 0.5, vsUndici: 0.9, vsBare: 3, addedMs: 0.15 };

const SOCKET_SKIP_CODES = /TEN_ERR_[A-Z_]+/;

/** `ten serve` with api (port) and, when the config loader and the core take it, apisock (a
 *  `listen = "socket"` service). Returns the server and, for apisock, its pid or why it is skipped. */
async function startTenement(upstreamScript: string): Promise<{ ten: Ten; socket: { pid: number } | { skipped: string } }> {
  const api = `[service.api]\nargs = ${JSON.stringify([process.execPath, upstreamScript])}\nhealth = "/health"\n`;
  const sock = `[service.apisock]\nargs = ${JSON.stringify([process.execPath, upstreamScript])}\nhealth = "/health"\nlisten = "socket"\n` +
    `[service.apisock.env]\nLISTEN = "socket"\n`;
  const settings = `[settings]\nhealth_interval = 60\n`;
  const start = async (toml: string) => {
    if (!CPU_PROF) return startTen(toml);
    // ten serve only (its instances get a fixed environment); see bench/cpu-prof.mjs
    const before = { opts: process.env.NODE_OPTIONS, dir: process.env.TEN_BENCH_CPU_PROF_DIR };
    process.env.NODE_OPTIONS = [before.opts, `--import=${pathToFileURL(join(ROOT, 'bench/cpu-prof.mjs')).href}`].filter(Boolean).join(' ');
    process.env.TEN_BENCH_CPU_PROF_DIR = join(tmp!, 'prof');
    try {
      return await startTen(toml);
    } finally {
      for (const [k, v] of [['NODE_OPTIONS', before.opts], ['TEN_BENCH_CPU_PROF_DIR', before.dir]] as const) {
        if (v === undefined) delete process.env[k]; else process.env[k] = v;
      }
    }
  };
  let ten: Ten;
  let skipped: string | undefined;
  try {
    ten = await start(`${settings}${api}${sock}[instances]\napi = ["v1"]\napisock = ["s1"]\n`);
  } catch (err) {
    const msg = (err as Error).message;
    const line = msg.split('\n').find((l) => SOCKET_SKIP_CODES.test(l)) ?? msg.split('\n')[0];
    skipped = `ten serve refused the listen = "socket" service: ${line.trim().slice(0, 240)}`;
    ten = await start(`${settings}${api}[instances]\napi = ["v1"]\n`);
  }
  if (skipped) return { ten, socket: { skipped } };
  try {
    const inst = await waitFor('apisock:s1 running', async () => {
      const v = (await ten.api('GET', '/api/instances/apisock/s1')).json();
      return v.state === 'running' && v.pid ? v as { pid: number } : undefined;
    }, 20_000);
    const r = await request(ten.port, 'apisock.localhost', '/', { timeoutMs: 2000 });
    if (r.status !== 200 || r.body !== BODY) throw new Error(`apisock.localhost answered ${r.status}: ${r.body.slice(0, 200)}`);
    return { ten, socket: { pid: inst.pid } };
  } catch (err) {
    const v = await ten.api('GET', '/api/instances/apisock/s1').then((r) => r.body, () => '?');
    await ten.api('DELETE', '/api/instances/apisock/s1').catch(() => undefined); // no restart loop during the run
    return { ten, socket: { skipped: `the listen = "socket" instance did not answer: ${(err as Error).message.slice(0, 200)} (instance: ${v.slice(0, 200)})` } };
  }
}

async function main(): Promise<void> {
  for (const bin of ['wrk', 'nginx']) {
    try { execFileSync('sh', ['-c', `command -v ${bin}`]); } catch { throw new Error(`${bin} is not installed: run bench/run.sh (npm run bench), which installs it`); }
  }
  const nginxVersion = execFileSync('sh', ['-c', 'nginx -v 2>&1']).toString(); // nginx -v prints to stderr
  const wrkVersion = /wrk \S+/.exec(execFileSync('sh', ['-c', 'wrk -v 2>&1 || true']).toString())?.[0] ?? 'wrk';
  const load0 = loadavg();

  tmp = mkdtempSync(join(tmpdir(), 'ten-bench-proxy-'));
  const upstreamScript = join(ROOT, 'bench/upstream.mjs');
  const { ten, socket } = await startTenement(upstreamScript);
  tenDir = ten.dir;
  if ('skipped' in socket) console.error(`proxy bench: tenement Unix-socket row skipped: ${socket.skipped}`);
  const inst = await waitFor('api:v1 running', async () => {
    const v = (await ten.api('GET', '/api/instances/api/v1')).json();
    return v.state === 'running' && v.port ? v as { port: number; pid: number } : undefined;
  }, 20_000);
  const upstreamPid = inst.pid;

  const taken = new Set([inst.port, ten.port]);
  const port = async () => { const p = await freePort(taken); taken.add(p); return p; };
  const nginxPort = await port();
  const confPath = join(tmp, 'nginx.conf');
  writeFileSync(confPath, nginxConf(tmp, nginxPort, inst.port));
  const nginx = await startChild('nginx', ['nginx', '-p', tmp, '-e', join(tmp, 'error.log'), '-c', confPath, '-g', 'daemon off;'],
    process.env, answers(nginxPort));
  const peer = async (what: string, script: string) => {
    const p = await port();
    const child = await startChild(what, [process.execPath, join(ROOT, script)],
      { ...process.env, PORT: String(p), UPSTREAM_PORT: String(inst.port) }, answers(p));
    return { port: p, pid: child.pid! };
  };
  const undici = await peer('bare undici', 'bench/undici-proxy.mjs');
  const bare = await peer('bare http-proxy-3', 'bench/bare-proxy.mjs');
  const raw = await peer('raw node:http proxy', 'bench/raw-proxy.mjs');

  const tenPids = () => [ten.child.pid!];
  const targets: Target[] = [
    { key: 'direct', label: 'direct (upstream alone)', port: inst.port, host: 'v1.api.localhost', proxyPids: () => [], upstreamPid },
    { key: 'tenement-direct', label: 'tenement, direct route `v1.api.localhost`', port: ten.port, host: 'v1.api.localhost', proxyPids: tenPids, upstreamPid },
    { key: 'tenement-balanced', label: 'tenement, balanced route `api.localhost`', port: ten.port, host: 'api.localhost', proxyPids: tenPids, upstreamPid },
    ...('pid' in socket ? [{ key: 'tenement-socket', label: 'tenement, balanced route, Unix-socket instance `apisock.localhost`', port: ten.port,
      host: 'apisock.localhost', proxyPids: tenPids, upstreamPid: socket.pid }] : []),
    { key: 'nginx', label: `nginx ${/nginx\/(\S+)/.exec(nginxVersion)?.[1] ?? ''} (${NGINX_WORKERS} worker, keepalive upstream)`, port: nginxPort, host: 'v1.api.localhost', proxyPids: () => [nginx.pid!, ...childrenOf(nginx.pid!)], upstreamPid },
    { key: 'bare-undici', label: 'bare undici Pool script', port: undici.port, host: 'v1.api.localhost', proxyPids: () => [undici.pid], upstreamPid },
    { key: 'bare-http-proxy-3', label: 'bare http-proxy-3 script', port: bare.port, host: 'v1.api.localhost', proxyPids: () => [bare.pid], upstreamPid },
    { key: 'raw-node-http', label: '(reference) node:http proxy, no library', port: raw.port, host: 'v1.api.localhost', proxyPids: () => [raw.pid], upstreamPid },
  ];
  for (const t of targets) { // every target answers the upstream's body before anything is timed
    const r = await request(t.port, t.host, '/');
    if (r.status !== 200 || r.body !== BODY) throw new Error(`${t.key} answered ${r.status}: ${r.body}`);
  }

  console.error(`proxy bench: ${targets.length} targets × ${ROUNDS} rounds × ${DURATION} s (+${WARMUP} s warm-up each), ` +
    `wrk -t${THREADS} -c${CONNECTIONS}, ${cpus().length} cores, load average ${load0.map((l) => l.toFixed(2)).join(' ')}` +
    (CPU_PROF ? ', ten serve under the CPU profiler' : ''));
  const load: Load = { threads: THREADS, connections: CONNECTIONS, seconds: DURATION };
  for (const t of targets) await wrk(t, { ...load, seconds: WARMUP }); // JIT, connection pools

  /** ROUNDS interleaved rounds of `load` on every target; medians over the rounds per target. */
  const pass = async (name: string, load: Load) => {
    const runs: Record<string, Run[]> = Object.fromEntries(targets.map((t) => [t.key, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of shuffled(targets, r + 1)) {
        const run = await measure(t, load, r);
        runs[t.key].push(run);
        console.error(`  ${name} round ${r + 1} ${t.key}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50.toFixed(3)} ms, p99 ${run.p99.toFixed(2)} ms` +
          (run.errors || run.non2xx ? `, ${run.errors} socket errors, ${run.non2xx} non-2xx` : ''));
        await sleep(500);
      }
    }
    const rows = targets.map((t) => {
      const rs = runs[t.key];
      const proxyCpu = rs.every((x) => x.proxyCpuUsPerReq !== null) ? median(rs.map((x) => x.proxyCpuUsPerReq!)) : null;
      return {
        key: t.key, label: t.label, rps: median(rs.map((x) => x.rps)),
        rpsMin: Math.min(...rs.map((x) => x.rps)), rpsMax: Math.max(...rs.map((x) => x.rps)), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)),
        proxyCpuUsPerReq: proxyCpu, upstreamCpuUsPerReq: median(rs.map((x) => x.upstreamCpuUsPerReq)),
        errors: rs.reduce((s, x) => s + x.errors, 0), non2xx: rs.reduce((s, x) => s + x.non2xx, 0),
      };
    });
    return { load, rows, runs };
  };
  const loaded = await pass(`c${CONNECTIONS}`, load);
  const c1 = C1_DURATION > 0 ? await pass('c1', { threads: 1, connections: 1, seconds: C1_DURATION }) : undefined;

  const rows = loaded.rows;
  type Row = typeof rows[number];
  const by = (k: string, rs = rows): Row | undefined => rs.find((r) => r.key === k);
  const direct = by('direct')!;
  const ngx = by('nginx')!;
  const f1 = (x: number) => x.toFixed(1);
  const f2 = (x: number) => x.toFixed(2);
  const socketNote = 'skipped' in socket ? `\ntenement, Unix-socket instance: skipped — ${socket.skipped}\n` : '';

  console.log(`\n## Proxy overhead (wrk -t${THREADS} -c${CONNECTIONS}, ${ROUNDS} interleaved rounds × ${DURATION} s per target; medians over rounds)\n`);
  console.log('| target | req/s | p50 ms | p99 ms | req/s vs direct | req/s vs nginx |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.label} | ${r.rps.toFixed(0)} | ${f2(r.p50)} | ${f2(r.p99)} | ${f2(r.rps / direct.rps)} | ${f2(r.rps / ngx.rps)} |`);
  }
  console.log(socketNote);
  console.log('| target | req/s, min – max over rounds | proxy CPU µs / request | upstream CPU µs / request | proxy CPU vs nginx |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const p = r.proxyCpuUsPerReq;
    console.log(`| ${r.label} | ${r.rpsMin.toFixed(0)} – ${r.rpsMax.toFixed(0)} | ${p === null ? '—' : f1(p)} | ${f1(r.upstreamCpuUsPerReq)} | ${p === null ? '—' : f2(p / ngx.proxyCpuUsPerReq!)} |`);
  }
  if (c1) {
    const d = by('direct', c1.rows)!;
    const n = by('nginx', c1.rows)!;
    console.log(`\nOne connection (wrk -t1 -c1, ${ROUNDS} interleaved rounds × ${C1_DURATION} s): the latency one hop adds when nothing queues.\n`);
    console.log('| target | req/s | p50 ms | p99 ms | p50 added to direct, µs | p50 added vs nginx\'s |');
    console.log('|---|---|---|---|---|---|');
    for (const r of c1.rows) {
      const added = (r.p50 - d.p50) * 1000;
      console.log(`| ${r.label} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.key === 'direct' ? '—' : added.toFixed(0)} | ` +
        `${r.key === 'direct' ? '—' : f2(added / ((n.p50 - d.p50) * 1000))} |`);
    }
  }

  // the issue's targets: tenement's balanced route against its peers, same run
  const ratio = (a: string, b: string) => by(a)!.rps / by(b)!.rps;
  const tenAdded = c1 ? (by('tenement-balanced', c1.rows)!.p50 - by('direct', c1.rows)!.p50) : undefined;
  const goals = [
    { what: `req/s ≥ ${GOALS.vsNginx} × nginx`, figure: ratio('tenement-balanced', 'nginx'), ok: (x: number) => x >= GOALS.vsNginx, fmt: (x: number) => `${f2(x)} ×` },
    { what: `req/s ≥ ${GOALS.vsUndici} × the bare undici script`, figure: ratio('tenement-balanced', 'bare-undici'), ok: (x: number) => x >= GOALS.vsUndici, fmt: (x: number) => `${f2(x)} ×` },
    { what: `req/s ≥ ${GOALS.vsBare} × the bare http-proxy-3 script`, figure: ratio('tenement-balanced', 'bare-http-proxy-3'), ok: (x: number) => x >= GOALS.vsBare, fmt: (x: number) => `${f2(x)} ×` },
    { what: `added p50 at one connection ≤ ${GOALS.addedMs} ms over direct`, figure: tenAdded, ok: (x: number) => x <= GOALS.addedMs, fmt: (x: number) => `${x.toFixed(3)} ms` },
  ].map((g) => ({ what: g.what, figure: g.figure, text: g.figure === undefined ? '—' : g.fmt(g.figure),
    verdict: g.figure === undefined ? 'NOT MEASURED' : g.ok(g.figure) ? 'PASS' : 'MISS' }));
  console.log('\nThe issue\'s targets (tenement\'s balanced route `api.localhost`, same run):\n');
  console.log('| target | figure | |');
  console.log('|---|---|---|');
  for (const g of goals) console.log(`| ${g.what} | ${g.text} | ${g.verdict} |`);
  const others = ['tenement-direct', 'tenement-socket'].filter((k) => by(k));
  if (others.length) {
    console.log('\n| other tenement route | ÷ nginx | ÷ bare undici | ÷ bare http-proxy-3 | added p50 at c1, ms |');
    console.log('|---|---|---|---|---|');
    for (const k of others) {
      const a = c1 ? f2(by(k, c1.rows)!.p50 - by('direct', c1.rows)!.p50) : '—';
      console.log(`| ${by(k)!.label} | ${f2(ratio(k, 'nginx'))} | ${f2(ratio(k, 'bare-undici'))} | ${f2(ratio(k, 'bare-http-proxy-3'))} | ${a} |`);
    }
  }
  const bad = [...rows, ...(c1?.rows ?? [])].filter((r) => r.errors || r.non2xx);
  console.log(`\n${cpus().length} cores shared by wrk (${THREADS} threads), the proxy and the upstream; ${wrkVersion}; ` +
    `load average before: ${load0.map((l) => l.toFixed(2)).join(' ')}` +
    (bad.length ? `; ERRORS: ${bad.map((r) => `${r.key} ${r.errors} socket errors, ${r.non2xx} non-2xx`).join('; ')}` : '; no socket errors, no non-2xx'));

  const date = new Date().toISOString();
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/proxy.json'), JSON.stringify({
    date, cores: cpus().length, cpu: cpus()[0]?.model, loadavgBefore: load0, loadavgAfter: loadavg(),
    wrk: { version: wrkVersion, threads: THREADS, connections: CONNECTIONS, durationS: DURATION, warmupS: WARMUP, rounds: ROUNDS, c1DurationS: C1_DURATION },
    nginx: { version: nginxVersion.trim(), workers: NGINX_WORKERS }, node: process.version, body: BODY, cpuProfiled: CPU_PROF,
    socket: 'skipped' in socket ? { skipped: socket.skipped } : { measured: true },
    goals, rows, runs: loaded.runs, c1: c1 && { rows: c1.rows, runs: c1.runs },
  }, null, 2));
  if (!CPU_PROF) {
    const svg = proxyChart(rows, c1?.rows, 'skipped' in socket ? socket.skipped : undefined, {
      date, cores: cpus().length, load: `wrk -t${THREADS} -c${CONNECTIONS}`, rounds: ROUNDS, seconds: DURATION });
    writeFileSync(join(ROOT, 'docs/benchmarks-proxy.svg'), svg);
    console.error('chart written to docs/benchmarks-proxy.svg');
  }
  if (existsSync(join(tmp, 'error.log'))) {
    const log = readFileSync(join(tmp, 'error.log'), 'utf8').trim();
    if (log) console.error(`nginx error.log:\n${log.split('\n').slice(-5).join('\n')}`);
  }
  await ten.stop();
  if (CPU_PROF) {
    const dir = join(tmp, 'prof');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
    if (files.length === 0) console.log('\nno CPU profile was written by ten serve');
    for (const f of files) {
      mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
      const keep = join(ROOT, 'bench/results', basename(f));
      writeFileSync(keep, readFileSync(join(dir, f)));
      console.log(`\n## Where the time goes: ten serve, self time (V8 sampling profiler over the whole run; ${keep})\n`);
      console.log(profileMarkdown(summariseProfile(keep, ROOT)));
    }
  }
}

type ChartRow = { key: string; label: string; rps: number; rpsMin: number; rpsMax: number; p50: number };

/** docs/benchmarks-proxy.svg: req/s per target under load, and the p50 one hop adds at one connection. */
function proxyChart(rows: ChartRow[], c1: ChartRow[] | undefined, socketSkipped: string | undefined,
  m: { date: string; cores: number; load: string; rounds: number; seconds: number }): string {
  const label = (r: ChartRow) => r.label.replace(/`/g, '').replace(/ apisock\.localhost$/, '');
  /** The skipped Unix-socket row keeps its place (after tenement's other routes), marked as skipped. */
  const withSkip = (bars: Bar[]): Bar[] => {
    if (socketSkipped === undefined) return bars;
    const at = bars.map((b) => b.accent).lastIndexOf(true) + 1;
    const skipped: Bar = { label: 'tenement, balanced route, Unix-socket instance', value: NaN, accent: true,
      note: 'skipped (the reason is in the run\'s output)' };
    return [...bars.slice(0, at), skipped, ...bars.slice(at)];
  };
  const ngx = rows.find((r) => r.key === 'nginx');
  const panels: Panel[] = [{
    title: `Requests per second (${m.load}, median of ${m.rounds} interleaved rounds × ${m.seconds} s; whiskers: min – max)`,
    format: (v) => v.toFixed(0),
    bars: withSkip(rows.map((r) => ({ label: label(r), value: r.rps, range: [r.rpsMin, r.rpsMax], accent: r.key.startsWith('tenement') }))),
    marks: ngx ? [{ value: ngx.rps * GOALS.vsNginx, label: `target: ${GOALS.vsNginx} × nginx` }] : [],
  }];
  if (c1) {
    const d = c1.find((r) => r.key === 'direct')!;
    panels.push({
      title: 'Median latency added over direct, one connection (wrk -t1 -c1, median of the rounds), µs',
      format: (v) => `${v.toFixed(0)} µs`,
      bars: withSkip(c1.filter((r) => r.key !== 'direct').map((r) => ({ label: label(r), value: (r.p50 - d.p50) * 1000, accent: r.key.startsWith('tenement') }))),
      marks: [{ value: GOALS.addedMs * 1000, label: `target: ${GOALS.addedMs * 1000} µs` }],
    });
  }
  return barChartSvg('tenement proxy overhead, next to its peers in the same run',
    `${m.date.slice(0, 16).replace('T', ' ')} UTC · ${m.cores} cores shared by wrk, the proxy and one upstream (bench/upstream.mjs, 13-byte answer) · npm run bench`, panels);
}

runBench(main, stopAll);
