// Exporter benchmark (npm run bench): what recording metrics costs the proxy. The proxy
// benchmark's method (bench/proxy.ts: wrk, interleaved rounds in a shuffled order, CPU time per
// request from /proc), applied to exporter on and off:
//   hot path  the exporter's per-request work alone, in-process: RequestBook.record() (what
//             hooks.requestDone runs now) next to prom-client's labelled Counter.inc() +
//             Histogram.observe() (what it ran first), ns per request, median of rounds
//   proxy     two real `ten serve` side by side, the same config and upstream script
//             (bench/upstream.mjs), one with the default metrics slot (prometheus-exporter), one
//             with `[plugins.metrics] use = false`; `wrk -t2 -c50` on the balanced route
//             (api.localhost), EXPORTER_ROUNDS rounds × EXPORTER_DURATION s per server, both
//             servers once per round in a shuffled order; req/s, p50, p99 and ten serve's CPU µs per
//             request; each round's on/off ratio (paired: the two runs of a round are seconds apart)
//   idle      both servers without traffic for EXPORTER_IDLE seconds: ten serve's CPU ms per second
//             (the exporter's timers: the 5 s history tick, the event-loop delay monitor)
//   scrape    on the exporter-on server after the load: GET /metrics and GET /api/stats, median
//             wall time of 20 calls and answer size
// wrk, both ten serve, their upstreams share the machine's cores. Prints markdown tables, writes
// bench/results/exporter.json. Knobs: EXPORTER_ROUNDS (10), EXPORTER_DURATION (4), EXPORTER_WARMUP
// (3), EXPORTER_CONNECTIONS (50), EXPORTER_HOT_N (2,000,000 calls per hot-path round), EXPORTER_IDLE (30),
// EXPORTER_CONTROL=1 (an A/A control: the "off" server runs the exporter too, so the ratios show
// what the method reports when nothing differs).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import client from 'prom-client';
import { BUCKETS, RequestBook } from '../plugins/prometheus-exporter/requests.ts';
import { cleanup, request, ROOT, sleep, startTen, waitFor, type Ten } from '../test/integration/harness.ts';
import { runBench } from './lifecycle.ts';
import { cpuTicks, parseWrk, runWrk, shuffled, type WrkResult } from './wrk.ts';

const ROUNDS = Number(process.env.EXPORTER_ROUNDS ?? 10);
const DURATION = Number(process.env.EXPORTER_DURATION ?? 4);
const WARMUP = Number(process.env.EXPORTER_WARMUP ?? 3);
const CONNECTIONS = Number(process.env.EXPORTER_CONNECTIONS ?? 50);
const HOT_N = Number(process.env.EXPORTER_HOT_N ?? 2_000_000);
const IDLE = Number(process.env.EXPORTER_IDLE ?? 30);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const BODY = 'hello, bench\n';
const CONTROL = process.env.EXPORTER_CONTROL === '1';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};


// ---------------------------------------------------------------- hot path

/** ns per request of the exporter's per-request work, both ways, ROUNDS rounds each, alternating. */
function hotPath(): { book: number[]; promClient: number[] } {
  const registry = new client.Registry();
  const counter = new client.Counter({ name: 'r_total', help: 'x', labelNames: ['service', 'instance', 'code'], registers: [registry] });
  const histogram = new client.Histogram({ name: 'd_seconds', help: 'x', labelNames: ['service', 'instance'], buckets: [...BUCKETS], registers: [registry] });
  const book = new RequestBook();
  const inst = { id: 'v1' };
  const ms = [0.4, 1.2, 2.5, 0.8, 7.1, 0.3, 1.9, 12.4]; // a spread of latencies, so buckets vary
  const codes = [200, 200, 200, 200, 200, 200, 503, 200];
  const time = (fn: (i: number) => void) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < HOT_N; i++) fn(i);
    return Number(process.hrtime.bigint() - t0) / HOT_N;
  };
  const viaBook = (i: number) => book.record('api', inst, codes[i & 7], ms[i & 7], true, undefined);
  const viaPromClient = (i: number) => {
    counter.inc({ service: 'api', instance: 'v1', code: String(codes[i & 7]) });
    histogram.observe({ service: 'api', instance: 'v1' }, ms[i & 7] / 1000);
  };
  time(viaBook); time(viaPromClient); // JIT
  const out = { book: [] as number[], promClient: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    out.book.push(time(viaBook));
    out.promClient.push(time(viaPromClient));
  }
  return out;
}

// ---------------------------------------------------------------- proxy

interface Server { key: 'on' | 'off'; ten: Ten; pid: number }
interface Run extends WrkResult { cpuUsPerReq: number }

async function wrk(port: number, seconds: number): Promise<WrkResult> {
  return parseWrk(await runWrk(['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', 'Host: api.localhost', `http://127.0.0.1:${port}/`], seconds));
}

async function measure(s: Server, seconds: number): Promise<Run> {
  const c0 = cpuTicks(s.pid);
  const r = await wrk(s.ten.port, seconds);
  return { ...r, cpuUsPerReq: ((cpuTicks(s.pid) - c0) / CLK_TCK) * 1e6 / Math.max(1, r.requests) };
}

async function start(key: 'on' | 'off'): Promise<Server> {
  const upstream = join(ROOT, 'bench/upstream.mjs');
  const metrics = key === 'off' && !CONTROL ? '[plugins.metrics]\nuse = false\n' : '';
  const ten = await startTen(`[settings]\nhealth_interval = 60\n[service.api]\nargs = ${JSON.stringify([process.execPath, upstream])}\nhealth = "/health"\n[instances]\napi = ["v1"]\n${metrics}`);
  await waitFor(`${key}: api:v1 running`, async () => (await ten.api('GET', '/api/instances/api/v1')).json().state === 'running', 20_000);
  const r = await request(ten.port, 'api.localhost', '/');
  if (r.status !== 200 || r.body !== BODY) throw new Error(`exporter ${key}: api.localhost answered ${r.status}: ${r.body}`);
  return { key, ten, pid: ten.child.pid! };
}

async function timed(ten: Ten, path: string): Promise<{ ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const r = await ten.api('GET', path);
    times.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}`);
    bytes = Buffer.byteLength(r.body);
  }
  return { ms: median(times), bytes };
}

async function main(): Promise<void> {
  try { execFileSync('sh', ['-c', 'command -v wrk']); } catch { throw new Error('wrk is not installed: run bench/run.sh (npm run bench), which installs it'); }
  const load0 = loadavg();
  console.error(`exporter bench: hot path, ${ROUNDS} rounds × ${HOT_N} calls each way`);
  const hot = hotPath();

  const servers = [await start('on'), await start('off')];
  await sleep(6000); // past the start and the first history tick
  const idle0 = servers.map((s) => cpuTicks(s.pid));
  console.error(`exporter bench: both servers idle for ${IDLE} s`);
  await sleep(IDLE * 1000);
  const idle = Object.fromEntries(servers.map((s, i) => [s.key, ((cpuTicks(s.pid) - idle0[i]) / CLK_TCK) * 1000 / IDLE])) as Record<'on' | 'off', number>;
  console.error(`exporter bench: ${ROUNDS} rounds × ${DURATION} s per server (+${WARMUP} s warm-up each), wrk -t2 -c${CONNECTIONS}, ` +
    `${cpus().length} cores, load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  for (const s of servers) await wrk(s.ten.port, WARMUP);
  const runs: Record<'on' | 'off', Run[]> = { on: [], off: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of shuffled(servers, r + 1)) {
      const run = await measure(s, DURATION);
      runs[s.key].push(run);
      console.error(`  round ${r + 1} exporter ${s.key}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, ${run.cpuUsPerReq.toFixed(1)} µs CPU/req` +
        (run.errors || run.non2xx ? `, ${run.errors} socket errors, ${run.non2xx} non-2xx` : ''));
      await sleep(300);
    }
  }
  const scrape = { metrics: await timed(servers[0].ten, '/metrics'), stats: await timed(servers[0].ten, '/api/stats') };

  const f = (x: number, d = 1) => x.toFixed(d);
  const row = (k: 'on' | 'off') => {
    const rs = runs[k];
    return { rps: median(rs.map((x) => x.rps)), min: Math.min(...rs.map((x) => x.rps)), max: Math.max(...rs.map((x) => x.rps)),
      p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), cpu: median(rs.map((x) => x.cpuUsPerReq)),
      cpuMin: Math.min(...rs.map((x) => x.cpuUsPerReq)), cpuMax: Math.max(...rs.map((x) => x.cpuUsPerReq)) };
  };
  const on = row('on');
  const off = row('off');
  const ratios = runs.on.map((x, i) => x.rps / runs.off[i].rps);
  const cpuRatios = runs.on.map((x, i) => x.cpuUsPerReq / runs.off[i].cpuUsPerReq);

  if (CONTROL) console.log('\n**A/A control run (EXPORTER_CONTROL=1): both servers run the exporter.**');
  console.log(`\n## Exporter on and off (wrk -t2 -c${CONNECTIONS}, balanced route, ${ROUNDS} rounds × ${DURATION} s per server; medians over rounds)\n`);
  console.log('| ten serve | req/s | min – max | p50 ms | p99 ms | CPU µs / request | min – max |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [label, r] of [['exporter on (default)', on], ['exporter off (`use = false`)', off]] as const) {
    console.log(`| ${label} | ${f(r.rps, 0)} | ${f(r.min, 0)} – ${f(r.max, 0)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.cpu)} | ${f(r.cpuMin)} – ${f(r.cpuMax)} |`);
  }
  console.log(`\nPer round, on ÷ off: req/s median ${f(median(ratios), 3)} (${f(Math.min(...ratios), 3)} – ${f(Math.max(...ratios), 3)}), ` +
    `CPU per request median ${f(median(cpuRatios), 3)} (${f(Math.min(...cpuRatios), 3)} – ${f(Math.max(...cpuRatios), 3)}); ` +
    `rounds where on was faster: ${ratios.filter((x) => x > 1).length} of ${ROUNDS}.`);
  console.log('\n| per-request work (in-process) | ns / request, median | min – max |');
  console.log('|---|---|---|');
  console.log(`| RequestBook.record() (now) | ${f(median(hot.book))} | ${f(Math.min(...hot.book))} – ${f(Math.max(...hot.book))} |`);
  console.log(`| prom-client labelled Counter.inc() + Histogram.observe() (before) | ${f(median(hot.promClient))} | ${f(Math.min(...hot.promClient))} – ${f(Math.max(...hot.promClient))} |`);
  console.log(`\nIdle, no traffic for ${IDLE} s: ten serve CPU ${f(idle.on, 2)} ms/s with the exporter, ${f(idle.off, 2)} ms/s without (clock ticks of ${1000 / CLK_TCK} ms).`);
  console.log(`\n| exporter-on server, after the load | median ms (20 calls) | bytes |`);
  console.log('|---|---|---|');
  console.log(`| GET /metrics | ${f(scrape.metrics.ms, 2)} | ${scrape.metrics.bytes} |`);
  console.log(`| GET /api/stats | ${f(scrape.stats.ms, 2)} | ${scrape.stats.bytes} |`);
  const bad = [...runs.on, ...runs.off].filter((r) => r.errors || r.non2xx);
  console.log(`\n${cpus().length} cores shared by wrk, both ten serve and their upstreams; load average before: ${load0.map((l) => l.toFixed(2)).join(' ')}` +
    (bad.length ? `; ERRORS in ${bad.length} runs` : '; no socket errors, no non-2xx'));

  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/exporter.json'), JSON.stringify({
    date: new Date().toISOString(), cores: cpus().length, cpu: cpus()[0]?.model, loadavgBefore: load0, loadavgAfter: loadavg(), node: process.version,
    wrk: { threads: 2, connections: CONNECTIONS, durationS: DURATION, warmupS: WARMUP, rounds: ROUNDS },
    control: CONTROL, hot: { calls: HOT_N, ...hot }, idle, on, off, ratios, cpuRatios, runs, scrape,
  }, null, 2));
}

runBench(main, cleanup);
