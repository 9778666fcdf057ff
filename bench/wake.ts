// Cold-wake benchmark (npm run bench): time to first response of a request to a sleeping
// instance, next to the same app's own spawn-to-first-response time measured by a bare script in
// the same run. Also: suspend-mode wake, and 100 concurrent first requests to a sleeping instance.
// Everything runs on loopback; prints a markdown table and writes bench/results/wake.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, PY_EXAMPLE, ROOT, startTen, waitFor, type Ten } from '../test/integration/harness.ts';
import { bareStart } from './bare-start.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 20);
const APPS: Record<string, string[]> = {
  node: [process.execPath, join(ROOT, 'bench/apps/node-http.js')],
  python: ['python3', '-u', PY_EXAMPLE],
};

const now = () => performance.now();
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const fmt = (x: number) => x.toFixed(1);

async function state(ten: Ten, key: string): Promise<string> {
  return (await ten.api('GET', `/api/instances/${key.replace(':', '/')}`)).json().state;
}

/** Put service:v1 to sleep through the idle-scaler's route, then time one request that wakes it. */
async function wake(ten: Ten, service: string): Promise<number> {
  const r = await ten.api('POST', `/api/idle-scaler/${service}/v1/sleep`);
  if (r.status !== 200) throw new Error(`sleep failed: ${r.body}`);
  await waitFor('idle', async () => (await state(ten, `${service}:v1`)) === 'idle');
  const t0 = now();
  const res = await ten.get(`v1.${service}.localhost`, '/');
  const t = now() - t0;
  if (res.status !== 200) throw new Error(`wake answered ${res.status}: ${res.body}`);
  return t;
}

async function main(): Promise<void> {
  const services = Object.entries(APPS).map(([name, argv]) =>
    `[service.${name}]\nargs = ${JSON.stringify(argv)}\nhealth = "/health"\nidle_timeout = 3600\n` +
    `[service.${name}-suspend]\nargs = ${JSON.stringify(argv)}\nhealth = "/health"\nidle_timeout = 3600\nidle_action = "suspend"\n`).join('\n');
  const instances = Object.keys(APPS).flatMap((n) => [`${n} = ["v1"]`, `${n}-suspend = ["v1"]`]).join('\n');
  const ten = await startTen(`[settings]\nhealth_interval = 60\n${services}\n[instances]\n${instances}\n`);
  for (const n of Object.keys(APPS)) for (const s of [n, `${n}-suspend`]) await waitFor(`${s} running`, async () => (await state(ten, `${s}:v1`)) === 'running', 20_000);

  const rows: Array<Record<string, string | number>> = [];
  for (const [name, argv] of Object.entries(APPS)) {
    const b: number[] = [];
    const w: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < ROUNDS; i++) { // interleaved, so both see the same machine load
      b.push(await bareStart(argv));
      w.push(await wake(ten, name));
      s.push(await wake(ten, `${name}-suspend`));
    }
    rows.push({
      app: name, rounds: ROUNDS,
      bare_median_ms: fmt(quantile(b, 0.5)), bare_p90_ms: fmt(quantile(b, 0.9)),
      wake_median_ms: fmt(quantile(w, 0.5)), wake_p90_ms: fmt(quantile(w, 0.9)),
      overhead_median_ms: fmt(quantile(w, 0.5) - quantile(b, 0.5)),
      ratio_median: (quantile(w, 0.5) / quantile(b, 0.5)).toFixed(2),
      suspend_median_ms: fmt(quantile(s, 0.5)), suspend_p90_ms: fmt(quantile(s, 0.9)),
    });
  }
  await ten.api('POST', '/api/idle-scaler/node-suspend/v1/sleep');
  const frozenWith = (await ten.api('GET', '/api/instances/node-suspend/v1')).json().suspended;

  // 100 concurrent first requests to a sleeping instance
  await ten.api('POST', '/api/idle-scaler/node/v1/sleep');
  await waitFor('idle', async () => (await state(ten, 'node:v1')) === 'idle');
  const t0 = now();
  const burst = await Promise.all(Array.from({ length: 100 }, () => ten.get('v1.node.localhost', '/')));
  const burstMs = now() - t0;
  const statuses = burst.reduce<Record<number, number>>((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {});
  const pids = new Set(burst.filter((r) => r.status === 200).map((r) => r.json().pid));

  console.log(`\n## Cold wake (${ROUNDS} rounds per app, interleaved)\n`);
  console.log('| app | bare start median / p90 (ms) | wake median / p90 (ms) | wake − bare, median (ms) | wake / bare | suspend-mode wake median / p90 (ms) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.app} | ${r.bare_median_ms} / ${r.bare_p90_ms} | ${r.wake_median_ms} / ${r.wake_p90_ms} | ${r.overhead_median_ms} | ${r.ratio_median} | ${r.suspend_median_ms} / ${r.suspend_p90_ms} |`);
  }
  console.log(`\nsuspend mechanism: ${frozenWith}`);
  console.log(`100 concurrent first requests: statuses ${JSON.stringify(statuses)}, processes started: ${pids.size}, all answered in ${fmt(burstMs)} ms`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/wake.json'), JSON.stringify({ rows, suspendMechanism: frozenWith, burst: { statuses, processes: pids.size, ms: burstMs } }, null, 2));
  await ten.stop();
}

main().then(cleanup, async (err) => { console.error(err); await cleanup(); process.exit(1); });
