// Proxy benchmark (npm run bench): throughput and latency of tenement's reverse proxy, measured
// with wrk next to its peers in the same run, against one and the same upstream process:
//   direct    the upstream app hit without a proxy (the physical limit)
//   tenement  a real `ten serve` child, by Host v1.api.localhost (direct route) and api.localhost
//             (weighted route)
//   nginx     nginx from Debian as a reverse proxy (keepalive upstream block, 1 worker)
//   bare      a bare http-proxy-3 script with a keep-alive agent (bench/bare-proxy.mjs)
//   raw       for reference, a minimal node:http proxy without a library (bench/raw-proxy.mjs)
// The upstream is bench/upstream.mjs, started by tenement as instance api:v1; the other targets
// are pointed at that instance's port. Two passes: `wrk -t2 -c50` (throughput, latency under
// load) and `wrk -t1 -c1` (the latency one hop adds when nothing queues). In each, rounds are
// interleaved (each round runs every target once, starting one further along the list) and every
// run has the same duration. Next to wrk's figures: the CPU time (utime + stime from /proc, all
// threads) the proxy process(es) and the upstream spent per request. wrk, the proxy and the
// upstream share the machine's cores. Everything runs on 127.0.0.1 and is stopped at the end, also
// on error or Ctrl-C. Needs `wrk` and `nginx` on PATH (bench/run.sh installs them). Prints markdown
// tables, writes bench/results/proxy.json. Knobs: PROXY_ROUNDS, PROXY_DURATION, PROXY_WARMUP,
// PROXY_CONNECTIONS, PROXY_C1_DURATION (0 skips the one-connection pass), PROXY_NGINX_WORKERS.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../core/net.ts';
import { cleanup, request, ROOT, sleep, startTen, waitFor } from '../test/integration/harness.ts';

// PROXY_* so that they do not collide with wake.ts's ROUNDS when npm run bench runs both
const DURATION = Number(process.env.PROXY_DURATION ?? 10); // seconds per measured run
const WARMUP = Number(process.env.PROXY_WARMUP ?? 3); // seconds of unmeasured load per target, once
const ROUNDS = Number(process.env.PROXY_ROUNDS ?? 3);
const THREADS = 2;
const CONNECTIONS = Number(process.env.PROXY_CONNECTIONS ?? 50);
const C1_DURATION = Number(process.env.PROXY_C1_DURATION ?? 5); // the one-connection pass; 0 skips it
const NGINX_WORKERS = process.env.PROXY_NGINX_WORKERS ?? '1';
const BODY = 'hello, bench\n';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

interface Target {
  key: string;
  label: string;
  port: number;
  host: string;
  /** Processes whose CPU time counts as the proxy's (none for direct). */
  proxyPids: () => number[];
}
interface Load { threads: number; connections: number; seconds: number }
interface WrkResult { rps: number; p50: number; p99: number; requests: number; errors: number; non2xx: number }
interface Run extends WrkResult { round: number; proxyCpuUsPerReq: number | null; upstreamCpuUsPerReq: number }

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------- processes, stopped at the end
const stops: Array<() => Promise<void>> = [];
let tmp: string | undefined;

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
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  } catch {
    return 0;
  }
}

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
/** "1.23ms" → 1.23 (milliseconds). */
function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(v.trim());
  if (!m) throw new Error(`unparsable wrk latency "${v}"`);
  const k = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'us'];
  return Number(m[1]) * k;
}

export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s*50%\s+(\S+)/m.exec(out);
  const p99 = /^\s*99%\s+(\S+)/m.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !p50 || !p99 || !total) throw new Error(`unparsable wrk output:\n${out}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: Number(rps[1]), p50: toMs(p50[1]), p99: toMs(p99[1]), requests: Number(total[1]),
    errors: sock ? sock.slice(1).reduce((s, n) => s + Number(n), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

function wrk(t: Target, { threads, connections, seconds }: Load): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency',
      '-H', `Host: ${t.host}`, `http://127.0.0.1:${t.port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = stopper(child);
    stops.push(stop);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000); // bounded
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      stops.splice(stops.indexOf(stop), 1);
      if (code === 0) resolve(out);
      else reject(new Error(`wrk on ${t.key} ended with ${code ?? signal}:\n${out}`));
    });
  });
}

async function measure(t: Target, load: Load, upstreamPid: number, round: number): Promise<Run> {
  const pp = t.proxyPids();
  const p0 = ticksOf(pp);
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
      # the same forwarding headers tenement (http-proxy-3 with xfwd) adds
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
async function main(): Promise<void> {
  for (const bin of ['wrk', 'nginx']) {
    try { execFileSync('sh', ['-c', `command -v ${bin}`]); } catch { throw new Error(`${bin} is not installed: run bench/run.sh (npm run bench), which installs it`); }
  }
  const nginxVersion = execFileSync('sh', ['-c', 'nginx -v 2>&1']).toString(); // nginx -v prints to stderr
  const wrkVersion = /wrk \S+/.exec(execFileSync('sh', ['-c', 'wrk -v 2>&1 || true']).toString())?.[0] ?? 'wrk';
  const load0 = loadavg();

  tmp = mkdtempSync(join(tmpdir(), 'ten-bench-proxy-'));
  const upstreamScript = join(ROOT, 'bench/upstream.mjs');
  const ten = await startTen(`[settings]\nhealth_interval = 60\n` +
    `[service.api]\nargs = ${JSON.stringify([process.execPath, upstreamScript])}\nhealth = "/health"\n` +
    `[instances]\napi = ["v1"]\n`);
  const inst = await waitFor('api:v1 running', async () => {
    const v = (await ten.api('GET', '/api/instances/api/v1')).json();
    return v.state === 'running' && v.port ? v as { port: number; pid: number } : undefined;
  }, 20_000);
  const upstreamPid = inst.pid;

  const nginxPort = await freePort(new Set([inst.port, ten.port]));
  const confPath = join(tmp, 'nginx.conf');
  writeFileSync(confPath, nginxConf(tmp, nginxPort, inst.port));
  const nginx = await startChild('nginx', ['nginx', '-p', tmp, '-e', join(tmp, 'error.log'), '-c', confPath, '-g', 'daemon off;'],
    process.env, answers(nginxPort));

  const barePort = await freePort(new Set([inst.port, ten.port, nginxPort]));
  const bare = await startChild('bare http-proxy-3', [process.execPath, join(ROOT, 'bench/bare-proxy.mjs')],
    { ...process.env, PORT: String(barePort), UPSTREAM_PORT: String(inst.port) }, answers(barePort));
  const rawPort = await freePort(new Set([inst.port, ten.port, nginxPort, barePort]));
  const raw = await startChild('raw node:http proxy', [process.execPath, join(ROOT, 'bench/raw-proxy.mjs')],
    { ...process.env, PORT: String(rawPort), UPSTREAM_PORT: String(inst.port) }, answers(rawPort));

  const targets: Target[] = [
    { key: 'direct', label: 'direct (upstream alone)', port: inst.port, host: 'v1.api.localhost', proxyPids: () => [] },
    { key: 'tenement-direct', label: 'tenement, `v1.api.localhost`', port: ten.port, host: 'v1.api.localhost', proxyPids: () => [ten.child.pid!] },
    { key: 'tenement-weighted', label: 'tenement, `api.localhost` (weighted)', port: ten.port, host: 'api.localhost', proxyPids: () => [ten.child.pid!] },
    { key: 'nginx', label: `nginx ${/nginx\/(\S+)/.exec(nginxVersion)?.[1] ?? ''} (${NGINX_WORKERS} worker, keepalive upstream)`, port: nginxPort, host: 'v1.api.localhost', proxyPids: () => [nginx.pid!, ...childrenOf(nginx.pid!)] },
    { key: 'bare-http-proxy-3', label: 'bare http-proxy-3 script', port: barePort, host: 'v1.api.localhost', proxyPids: () => [bare.pid!] },
    { key: 'raw-node-http', label: '(reference) node:http proxy, no library', port: rawPort, host: 'v1.api.localhost', proxyPids: () => [raw.pid!] },
  ];
  for (const t of targets) { // every target answers the upstream's body before anything is timed
    const r = await request(t.port, t.host, '/');
    if (r.status !== 200 || r.body !== BODY) throw new Error(`${t.key} answered ${r.status}: ${r.body}`);
  }

  console.error(`proxy bench: ${targets.length} targets × ${ROUNDS} rounds × ${DURATION} s (+${WARMUP} s warm-up each), ` +
    `wrk -t${THREADS} -c${CONNECTIONS}, ${cpus().length} cores, load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  const load: Load = { threads: THREADS, connections: CONNECTIONS, seconds: DURATION };
  for (const t of targets) await wrk(t, { ...load, seconds: WARMUP }); // JIT, connection pools

  /** ROUNDS interleaved rounds of `load` on every target; medians over the rounds per target. */
  const pass = async (name: string, load: Load) => {
    const runs: Record<string, Run[]> = Object.fromEntries(targets.map((t) => [t.key, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + r) % targets.length];
        const run = await measure(t, load, upstreamPid, r);
        runs[t.key].push(run);
        console.error(`  ${name} round ${r + 1} ${t.key}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms` +
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
  const by = (k: string, rs = rows) => rs.find((r) => r.key === k)!;
  const direct = by('direct');
  const ngx = by('nginx');
  const f1 = (x: number) => x.toFixed(1);
  const f2 = (x: number) => x.toFixed(2);

  console.log(`\n## Proxy overhead (wrk -t${THREADS} -c${CONNECTIONS}, ${ROUNDS} interleaved rounds × ${DURATION} s per target; medians over rounds)\n`);
  console.log('| target | req/s | p50 ms | p99 ms | req/s vs direct | req/s vs nginx |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.label} | ${r.rps.toFixed(0)} | ${f2(r.p50)} | ${f2(r.p99)} | ${f2(r.rps / direct.rps)} | ${f2(r.rps / ngx.rps)} |`);
  }
  console.log('\n| target | req/s, min – max over rounds | proxy CPU µs / request | upstream CPU µs / request | proxy CPU vs nginx |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const p = r.proxyCpuUsPerReq;
    console.log(`| ${r.label} | ${r.rpsMin.toFixed(0)} – ${r.rpsMax.toFixed(0)} | ${p === null ? '—' : f1(p)} | ${f1(r.upstreamCpuUsPerReq)} | ${p === null ? '—' : f2(p / ngx.proxyCpuUsPerReq!)} |`);
  }
  if (c1) {
    const d = by('direct', c1.rows);
    const n = by('nginx', c1.rows);
    console.log(`\nOne connection (wrk -t1 -c1, ${ROUNDS} interleaved rounds × ${C1_DURATION} s): the latency one hop adds when nothing queues.\n`);
    console.log('| target | req/s | p50 ms | p99 ms | p50 added to direct, µs | p50 added vs nginx\'s |');
    console.log('|---|---|---|---|---|---|');
    for (const r of c1.rows) {
      const added = (r.p50 - d.p50) * 1000;
      console.log(`| ${r.label} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.key === 'direct' ? '—' : added.toFixed(0)} | ` +
        `${r.key === 'direct' ? '—' : f2(added / ((n.p50 - d.p50) * 1000))} |`);
    }
  }
  const bad = [...rows, ...(c1?.rows ?? [])].filter((r) => r.errors || r.non2xx);
  console.log(`\n${cpus().length} cores shared by wrk (${THREADS} threads), the proxy and the upstream; ${wrkVersion}; ` +
    `load average before: ${load0.map((l) => l.toFixed(2)).join(' ')}` +
    (bad.length ? `; ERRORS: ${bad.map((r) => `${r.key} ${r.errors} socket errors, ${r.non2xx} non-2xx`).join('; ')}` : '; no socket errors, no non-2xx'));

  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/proxy.json'), JSON.stringify({
    date: new Date().toISOString(), cores: cpus().length, cpu: cpus()[0]?.model, loadavgBefore: load0, loadavgAfter: loadavg(),
    wrk: { version: wrkVersion, threads: THREADS, connections: CONNECTIONS, durationS: DURATION, warmupS: WARMUP, rounds: ROUNDS, c1DurationS: C1_DURATION },
    nginx: { version: nginxVersion.trim(), workers: NGINX_WORKERS }, node: process.version, body: BODY,
    rows, runs: loaded.runs, c1: c1 && { rows: c1.rows, runs: c1.runs },
  }, null, 2));
  if (existsSync(join(tmp, 'error.log'))) {
    const log = readFileSync(join(tmp, 'error.log'), 'utf8').trim();
    if (log) console.error(`nginx error.log:\n${log.split('\n').slice(-5).join('\n')}`);
  }
  await ten.stop();
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${sig}: stopping everything`);
    void stopAll().finally(() => process.exit(130));
  });
}
main().then(stopAll, async (err) => {
  if (stopping) return; // interrupted: the signal handler stops everything and exits
  console.error(err);
  await stopAll();
  process.exit(1);
});
