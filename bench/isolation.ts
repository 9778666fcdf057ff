// Isolation benchmark (npm run bench): what each isolation level of linux-isolation costs at start,
// next to `process` (and to the app started bare, without tenement) in the same run.
//   - through ten serve: one real `ten serve` with one service per level, all running the same
//     dependency-free Node app (bench/apps/node-http.js, health /health). Each round spawns one new instance per
//     level (POST /api/instances) and times spawn → first 200 from the instance's own host (the
//     request waits for `running`: port open and /health passed), then stops it. Rounds
//     interleave the levels in a shuffled order, so every level sees the same machine load;
//   - bare: the same app spawned by this script (the environment tenement gives it), port polled
//     every 2 ms, GET / until 200: the app's own start, the floor of every level;
//   - the wrappers alone: tenement-init running `true`, bare (`process`), under unshare
//     (`namespace`) and under bwrap (`sandbox`), with the same options an instance gets.
// Prints markdown tables, writes bench/results/isolation.json and the chart
// docs/benchmarks-isolation.svg (bench/chart.ts).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { INIT_PATH } from '../core/process.ts';
import { NAMESPACE_WRAP } from '../plugins/linux-isolation/namespace.ts';
import { sandboxWrap } from '../plugins/linux-isolation/sandbox.ts';
import { levelSupport, LEVELS, type Level } from '../plugins/linux-isolation/support.ts';
import { cleanup, ROOT, startTen, type Ten } from '../test/integration/harness.ts';
import { barChartSvg, type Panel } from './chart.ts';
import { bareStart } from './bare-start.ts';
import { runBench } from './lifecycle.ts';

const ROUNDS = Number(process.env.ISOLATION_ROUNDS ?? 20);
const WARMUP = Number(process.env.ISOLATION_WARMUP ?? 2);
const WRAP_ROUNDS = Number(process.env.ISOLATION_WRAP_ROUNDS ?? 50);
const APP = [process.execPath, join(ROOT, 'bench/apps/node-http.js')];

const now = () => performance.now();
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const median = (xs: number[]) => quantile(xs, 0.5);
const fmt = (x: number) => x.toFixed(1);

/** Deterministic shuffle (mulberry32), so that a rerun orders the rounds the same way. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Spawn `level-<level>:<id>` through the API, time it to its first 200, then stop and remove it. */
async function spawnOnce(ten: Ten, level: Level, id: string): Promise<number> {
  const service = `level-${level}`;
  const t0 = now();
  const created = await ten.api('POST', '/api/instances', { service, id });
  if (created.status !== 201) throw new Error(`spawn ${service}:${id} answered ${created.status}: ${created.body}`);
  // a direct request to a starting instance waits until it is running (idle-scaler's queue)
  const res = await ten.get(`${id}.${service}.localhost`, '/', { timeoutMs: 60_000 });
  const t = now() - t0;
  if (res.status !== 200) throw new Error(`${service}:${id} answered ${res.status}: ${res.body}`);
  const removed = await ten.api('DELETE', `/api/instances/${service}/${id}`);
  if (removed.status !== 200) throw new Error(`stop ${service}:${id} answered ${removed.status}: ${removed.body}`);
  return t;
}

/** tenement-init running `true` under each level's wrapper, as an instance's command line has it. */
function wrapperArgv(level: Level, dir: string): string[] {
  const init = [INIT_PATH, '--', 'true'];
  if (level === 'process') return init;
  if (level === 'namespace') return [...NAMESPACE_WRAP, INIT_PATH, '--hostname', 'bench.wrap', '--', 'true'];
  return [...sandboxWrap({ cwd: dir, dataDir: dir, socketDir: dir, hide: join(dir, 'hidden'), hostname: 'bench.wrap' }), INIT_PATH, '--no-new-privs', '--drop-caps', '--', 'true'];
}

function timeWrapper(argv: string[]): number {
  const t0 = now();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  const t = now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return t;
}

async function main(): Promise<void> {
  const levels = LEVELS.filter((l) => {
    const why = levelSupport(l);
    if (why) console.error(`skipping level ${l}: ${why}`);
    return why === null;
  });
  if (!levels.includes('process')) throw new Error('level process cannot run here: nothing to compare with');
  const load0 = loadavg();
  console.error(`isolation: ${ROUNDS} rounds (+${WARMUP} warm-up) of ${levels.join(', ')} and bare; ${cpus().length} cores, load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);

  const services = levels.map((l) => `[service.level-${l}]\nargs = ${JSON.stringify(APP)}\nhealth = "/health"\nisolation = "${l}"\n`).join('\n');
  const ten = await startTen(`[settings]\nhealth_interval = 60\n${services}`);

  const times: Record<string, number[]> = Object.fromEntries([...levels, 'bare'].map((k) => [k, []]));
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (const what of shuffled([...levels, 'bare'] as const, 1000 + round)) {
      const t = what === 'bare' ? await bareStart(APP) : await spawnOnce(ten, what, `r${round}`);
      if (round >= WARMUP) times[what].push(t);
    }
    process.stderr.write(`round ${round + 1}/${WARMUP + ROUNDS}${round < WARMUP ? ' (warm-up)' : ''}\r`);
  }
  process.stderr.write('\n');
  const containment = ten.output().match(/containment: [^"]*/)?.[0] ?? '';
  await ten.stop();

  const wrapDir = tmpdir();
  const wrap: Record<string, number[]> = Object.fromEntries(levels.map((l) => [l, []]));
  for (let i = 0; i < WRAP_ROUNDS; i++) for (const l of shuffled(levels, 5000 + i)) wrap[l].push(timeWrapper(wrapperArgv(l, wrapDir)));

  const base = median(times.process);
  const wrapBase = median(wrap.process);
  const rows = [...levels, 'bare'].map((k) => ({
    what: k, median_ms: median(times[k]), p90_ms: quantile(times[k], 0.9), min_ms: Math.min(...times[k]), max_ms: Math.max(...times[k]),
    ratio_to_process: median(times[k]) / base,
    wrapper_median_ms: k === 'bare' ? null : median(wrap[k]), wrapper_min_ms: k === 'bare' ? null : Math.min(...wrap[k]),
    wrapper_ratio_to_process: k === 'bare' ? null : median(wrap[k]) / wrapBase,
  }));

  console.log(`\n### Isolation levels: spawn → first response (${ROUNDS} rounds, interleaved)\n`);
  console.log('| level | median ms | p90 ms | min – max ms | ÷ process | wrapper alone: init + `true`, median (min) ms | ÷ process |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const label = r.what === 'bare' ? 'bare `node` app (no tenement)' : `\`${r.what}\``;
    const wrapCells = r.wrapper_median_ms === null ? '– | –' : `${r.wrapper_median_ms.toFixed(1)} (${r.wrapper_min_ms!.toFixed(1)}) | ${r.wrapper_ratio_to_process!.toFixed(2)}`;
    console.log(`| ${label} | ${fmt(r.median_ms)} | ${fmt(r.p90_ms)} | ${fmt(r.min_ms)} – ${fmt(r.max_ms)} | ${r.ratio_to_process.toFixed(2)} | ${wrapCells} |`);
  }
  console.log(`\n${cpus().length} cores; load average before: ${load0.map((l) => l.toFixed(2)).join(' ')}, after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (containment) console.log(`ten serve: ${containment}`);
  const date = new Date().toISOString();
  writeFileSync(join(ROOT, 'docs/benchmarks-isolation.svg'), isolationChart(levels, times, wrap, {
    date, cores: cpus().length, load: load0[0].toFixed(1), rounds: ROUNDS, wrapRounds: WRAP_ROUNDS,
  }));
  console.error('chart written to docs/benchmarks-isolation.svg');
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/isolation.json'), JSON.stringify({
    date, cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgBefore: load0, loadavgAfter: loadavg(),
    rounds: ROUNDS, warmup: WARMUP, wrapRounds: WRAP_ROUNDS, containment, rows, raw: times, rawWrap: wrap,
  }, null, 2));
}

/** docs/benchmarks-isolation.svg: spawn → first response per level (and bare), and the wrapper alone. */
function isolationChart(levels: Level[], times: Record<string, number[]>, wrap: Record<string, number[]>,
  m: { date: string; cores: number; load: string; rounds: number; wrapRounds: number }): string {
  const range = (xs: number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];
  const panels: Panel[] = [{
    title: `Spawn → first response through ten serve, ms (median of ${m.rounds} interleaved rounds; whiskers: min – max)`,
    format: (v) => `${v.toFixed(1)} ms`,
    bars: [
      ...levels.map((l) => ({ label: `isolation = "${l}"`, value: median(times[l]), range: range(times[l]), accent: true })),
      { label: 'bare node app, no tenement', value: median(times.bare), range: range(times.bare) },
    ],
  }, {
    title: `The wrapper alone: tenement-init running true, ms (median of ${m.wrapRounds}; whiskers: min – max)`,
    format: (v) => `${v.toFixed(1)} ms`,
    bars: levels.map((l) => ({
      label: l === 'process' ? 'tenement-init' : l === 'namespace' ? 'unshare + tenement-init' : 'bwrap + tenement-init',
      value: median(wrap[l]), range: range(wrap[l]), accent: true,
    })),
  }];
  return barChartSvg('Start-up cost of the isolation levels, next to the bare app in the same run',
    `${m.date.slice(0, 16).replace('T', ' ')} UTC · ${m.cores} cores, load average ${m.load} at start · bench/apps/node-http.js · npm run bench`, panels);
}

runBench(main, cleanup);
