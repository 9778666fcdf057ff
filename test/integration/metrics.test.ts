// The prometheus-exporter against a real ten serve: GET /metrics behind the token, parsed whole with
// a Prometheus text-format parser; counters move by exactly the requests sent; instance gauges tell
// the truth (state, weight, restarts, memory and CPU checked against /proc); wakes, rollout steps
// and outcomes, shadow mismatches counted from the event stream; a removed instance's series go;
// public = true and the exporter's own listener; /api/stats and its event stream.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { Cli } from 'clipanion';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../../core/net.ts';
import { cleanup, fixtureService, request, startTen, waitFor, type Ten } from './harness.ts';
import { runCli as runCliInProcess } from '../../cli/index.ts';
import type { StatsView } from '../../plugins/prometheus-exporter/view.ts';

after(cleanup);

/** One family as parse-prometheus-text-format returns it (values are strings, as in the text). */
interface Family {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Array<{ labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string; sum?: string }>;
}
const parseText = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

/** The whole exposition text parsed (the parser throws on any line the format does not allow),
 *  by family name; `samples` holds every sample line by its own name (`x_bucket`, `x_sum`, …). The
 *  parser folds a histogram's series into one object and keeps only unlabelled ones
 *  (flattenMetrics), so histogram samples are read from a second pass without the TYPE lines, where
 *  each sample is its own untyped family. */
function parse(text: string): Map<string, Family> & { samples: Map<string, Array<{ labels: Record<string, string>; value: number }>> } {
  const families = parseText(text);
  const byName = new Map(families.map((f) => [f.name, f]));
  assert.equal(byName.size, families.length, 'each family once');
  const samples = new Map<string, Array<{ labels: Record<string, string>; value: number }>>();
  for (const f of parseText(text.replace(/^# TYPE .*$/gm, ''))) {
    if (!samples.has(f.name)) samples.set(f.name, []);
    samples.get(f.name)!.push(...f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })));
  }
  return Object.assign(byName, { samples });
}

async function scrape(ten: Ten): Promise<ReturnType<typeof parse>> {
  const r = await ten.api('GET', '/metrics');
  assert.equal(r.status, 200, r.body);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parse(r.body);
}

const same = (a: Record<string, string> = {}, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);

/** The value of the one series `name{labels}` (labels exactly), or undefined. */
function value(f: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined {
  const m = f.get(name)?.metrics.find((x) => same(x.labels, labels));
  return m?.value === undefined ? undefined : Number(m.value);
}

/** A histogram series: count, sum and cumulative buckets by `le`. */
function histogram(f: ReturnType<typeof parse>, name: string, labels: Record<string, string>): { count: number; sum: number; buckets: Record<string, number> } | undefined {
  const one = (suffix: string) => f.samples.get(`${name}${suffix}`)?.find((x) => same(x.labels, labels))?.value;
  const count = one('_count');
  if (count === undefined) return undefined;
  const buckets: Record<string, number> = {};
  for (const b of f.samples.get(`${name}_bucket`) ?? []) {
    const { le, ...rest } = b.labels;
    if (same(rest, labels)) buckets[le] = b.value;
  }
  return { count, sum: one('_sum')!, buckets };
}

/** proc(5): VmRSS of /proc/<pid>/status, bytes. */
/** What the exporter should report as the memory of the instance whose app is `pid`: the charge
 *  of its own memory cgroup when it has one (each instance has, where the host lets ten serve make
 *  cgroups: core/cgroup.ts; shared file pages such as node's own code are charged to whoever read
 *  them first, so this is below VmRSS), else the app's VmRSS. */
function vmRss(pid: number): number {
  const own = (file: string) => readFileSync(file, 'utf8').split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))?.split(':')[2];
  const path = own(`/proc/${pid}/cgroup`);
  if (path && path !== own('/proc/self/cgroup')) {
    try { return Number(readFileSync(`/sys/fs/cgroup/memory${path}/memory.usage_in_bytes`, 'utf8')); } catch { /* not a v1 memory hierarchy at the usual place */ }
  }
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}
/** proc(5): utime + stime (+ cutime + cstime) of /proc/<pid>/stat, seconds (USER_HZ = 100). */
function procCpu(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

async function instance(ten: Ten, service: string, id: string): Promise<{ state: string; pid: number; restarts: number; weight: number }> {
  return (await ten.api('GET', `/api/instances/${service}/${id}`)).json();
}
const running = (ten: Ten, service: string, id: string) => waitFor(`${service}:${id} running`, async () => {
  const i = await instance(ten, service, id);
  return i.state === 'running' ? i : undefined;
}, 20_000);

describe('GET /metrics', () => {
  test('57 × 200 and 13 × 503 to api:v1 move the counters by exactly that; true gauges; removal', async () => {
    const ten = await startTen(`[settings]\nhealth_interval = 60\n${fixtureService('api')}\n[instances]\napi = ["v1", "v2"]\n`);
    await running(ten, 'api', 'v1');
    await running(ten, 'api', 'v2');
    assert.equal((await ten.get('localhost', '/metrics')).status, 401, 'behind the token');
    assert.equal((await ten.get('v1.api.localhost', '/sick')).status, 200); // its /health answers 503 from now on
    const v1 = { service: 'api', instance: 'v1' };
    const before = await scrape(ten);
    const c200 = value(before, 'tenement_http_requests_total', { ...v1, code: '200' })!;
    const c503 = value(before, 'tenement_http_requests_total', { ...v1, code: '503' }) ?? 0;
    const h0 = histogram(before, 'tenement_http_request_duration_seconds', v1)!;
    for (let i = 0; i < 57; i++) assert.equal((await ten.get('v1.api.localhost', '/')).status, 200);
    for (let i = 0; i < 13; i++) assert.equal((await ten.get('v1.api.localhost', '/health')).status, 503);
    assert.equal((await ten.get('nope.localhost', '/')).status, 404);

    const { pid } = await instance(ten, 'api', 'v1');
    const cpuBefore = procCpu(pid);
    const m = await scrape(ten);
    const cpuAfter = procCpu(pid);
    const rss = vmRss(pid);
    assert.equal(value(m, 'tenement_http_requests_total', { ...v1, code: '200' })! - c200, 57);
    assert.equal(value(m, 'tenement_http_requests_total', { ...v1, code: '503' })! - c503, 13);
    const h = histogram(m, 'tenement_http_request_duration_seconds', v1)!;
    assert.equal(h.count - h0.count, 70, 'the histogram\'s _count');
    assert.equal(h.buckets['+Inf'] - h0.buckets['+Inf'], 70);
    assert.ok(h.sum > h0.sum);
    const les = Object.keys(h.buckets).filter((k) => k !== '+Inf').map(Number).sort((a, b) => a - b);
    for (let i = 1; i < les.length; i++) assert.ok(h.buckets[String(les[i])] >= h.buckets[String(les[i - 1])], 'cumulative buckets');
    assert.equal(value(m, 'tenement_http_requests_total', { service: '', instance: '', code: '404' }), 1, 'unknown hosts: no series of their own');

    const types: Record<string, Family['type']> = {
      tenement_http_requests_total: 'COUNTER', tenement_http_request_duration_seconds: 'HISTOGRAM', tenement_http_requests_in_flight: 'GAUGE',
      tenement_proxy_errors_total: 'COUNTER', tenement_instance_state: 'GAUGE', tenement_instance_weight: 'GAUGE',
      tenement_instance_restarts_total: 'COUNTER', tenement_instance_cpu_seconds_total: 'COUNTER', tenement_instance_memory_bytes: 'GAUGE',
      tenement_health_checks_total: 'COUNTER', tenement_health_check_duration_seconds: 'HISTOGRAM', tenement_wakes_total: 'COUNTER',
      tenement_wake_duration_seconds: 'HISTOGRAM', tenement_rollout_step: 'GAUGE', tenement_rollout_canary_weight: 'GAUGE',
      tenement_rollouts_total: 'COUNTER', tenement_shadow_mismatches_total: 'COUNTER', process_cpu_user_seconds_total: 'COUNTER',
    };
    for (const [name, type] of Object.entries(types)) assert.equal(m.get(name)?.type, type, name);

    assert.equal(value(m, 'tenement_instance_state', { ...v1, state: 'running' }), 1);
    for (const s of ['stopped', 'starting', 'unhealthy', 'restarting', 'failed', 'stopping', 'idle']) assert.equal(value(m, 'tenement_instance_state', { ...v1, state: s }), 0, s);
    assert.equal(value(m, 'tenement_instance_weight', v1), 100);
    assert.equal(value(m, 'tenement_instance_restarts_total', v1), 0);
    assert.equal(value(m, 'tenement_http_requests_in_flight', v1), 0);
    // the app has no children: its tree is its own process
    const memory = value(m, 'tenement_instance_memory_bytes', v1)!;
    assert.ok(Math.abs(memory - rss) < rss * 0.25, `memory ${memory} vs VmRSS ${rss} of pid ${pid}`);
    const cpu = value(m, 'tenement_instance_cpu_seconds_total', v1)!;
    assert.ok(cpu > 0, 'the app burnt CPU starting and answering 70 requests');
    // from the instance cgroup: tenement-init's own few milliseconds count too
    assert.ok(cpu >= cpuBefore - 0.01 && cpu <= cpuAfter + 0.05, `cpu ${cpu} vs /proc ${cpuBefore}..${cpuAfter}`);

    // a weight change and a crash: the gauges follow
    assert.equal((await ten.api('PUT', '/api/instances/api/v2/weight', { weight: 30 })).status, 200);
    const oldPid = (await instance(ten, 'api', 'v2')).pid;
    assert.equal((await ten.get('v2.api.localhost', '/exit')).status, 200);
    const v2 = await waitFor('api:v2 restarted', async () => {
      const i = await instance(ten, 'api', 'v2');
      return i.state === 'running' && i.restarts === 1 && i.pid !== oldPid ? i : undefined;
    }, 20_000);
    const m2 = await scrape(ten);
    const ownAfter = procCpu(v2.pid);
    const l2 = { service: 'api', instance: 'v2' };
    assert.equal(value(m2, 'tenement_instance_weight', l2), 30);
    assert.equal(value(m2, 'tenement_instance_restarts_total', l2), 1);
    // its new cgroup's count: the new process' own and its tenement-init's few milliseconds
    assert.ok(value(m2, 'tenement_instance_cpu_seconds_total', l2)! <= ownAfter + 0.05, 'a new process: the counter is its own');

    // a removed instance's series go
    assert.equal((await ten.api('DELETE', '/api/instances/api/v1')).status, 200);
    const text = (await ten.api('GET', '/metrics')).body;
    parse(text);
    assert.doesNotMatch(text, /instance="v1"/);
    assert.equal(value(parse(text), 'tenement_instance_weight', l2), 30);
  });

  test('a wake moves tenement_wakes_total and the wake histogram', async () => {
    const ten = await startTen(`[settings]\nhealth_interval = 60\n${fixtureService('api')}\n[instances]\napi = ["v1"]\n`);
    const first = await running(ten, 'api', 'v1');
    assert.equal((await ten.api('POST', '/api/idle-scaler/api/v1/sleep')).status, 200);
    await waitFor('api:v1 idle', async () => (await instance(ten, 'api', 'v1')).state === 'idle');
    const idle = await scrape(ten);
    const v1 = { service: 'api', instance: 'v1' };
    assert.equal(value(idle, 'tenement_instance_memory_bytes', v1), 0, 'no process, no memory');
    assert.equal(value(idle, 'tenement_wakes_total', { ...v1, result: 'ok' }), undefined);
    assert.equal((await ten.get('v1.api.localhost', '/')).status, 200, 'the request wakes it');
    const m = await scrape(ten);
    assert.equal(value(m, 'tenement_wakes_total', { ...v1, result: 'ok' }), 1);
    const h = histogram(m, 'tenement_wake_duration_seconds', { ...v1, result: 'ok' })!;
    assert.equal(h.count, 1);
    assert.ok(h.sum > 0 && h.sum < 30, `wake took ${h.sum} s`);
    const woken = await instance(ten, 'api', 'v1');
    assert.notEqual(woken.pid, first.pid);
    assert.ok(value(m, 'tenement_instance_memory_bytes', v1)! > 0);
  });

  test('rollout step, canary weight, outcome and shadow mismatches, from the event stream', async () => {
    const api = `${fixtureService('api')}ERROR_RATE_FOR = "v2:1"\n`; // v2 answers 500 to every `/`
    const ten = await startTen(`[settings]\nhealth_interval = 60\n${api}\n[instances]\napi = ["v1"]\n`);
    await running(ten, 'api', 'v1');
    assert.equal((await ten.api('POST', '/api/instances', { service: 'api', id: 'v2', weight: 0 })).status, 201);
    await running(ten, 'api', 'v2');
    // every balanced request goes to v1 (200) and is mirrored to v2 (500): each is a mismatch
    assert.equal((await ten.api('POST', '/api/workflows/shadow', { service: 'api', to: 'v2', percent: 100 })).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await ten.get('api.localhost', '/')).status, 200);
    await waitFor('5 mismatches', async () => value(await scrape(ten), 'tenement_shadow_mismatches_total', { service: 'api' }) === 5);
    assert.equal((await ten.api('DELETE', '/api/workflows/shadow/api')).status, 200);

    const started = await ten.api('POST', '/api/workflows/rollout', { service: 'api', to: 'v2', steps: [40, 100], interval: 60 });
    assert.equal(started.status, 202, started.body);
    const m = await waitFor('step 1', async () => {
      const f = await scrape(ten);
      return value(f, 'tenement_rollout_step', { service: 'api' }) === 1 ? f : undefined;
    });
    assert.equal(value(m, 'tenement_rollout_canary_weight', { service: 'api' }), 40);
    assert.equal((await ten.api('POST', '/api/workflows/rollout/api/abort')).status, 200);
    const done = await waitFor('the outcome', async () => {
      const f = await scrape(ten);
      return value(f, 'tenement_rollouts_total', { service: 'api', kind: 'rollout', outcome: 'aborted' }) === 1 ? f : undefined;
    });
    assert.equal(value(done, 'tenement_rollout_step', { service: 'api' }), 0);
    assert.equal(value(done, 'tenement_rollout_canary_weight', { service: 'api' }), 0);
  });
});

describe('options', () => {
  test('public = true: /metrics without a token; listen: /metrics on its own port and nothing else', async () => {
    const port = await freePort(new Set());
    const ten = await startTen(`${fixtureService('api')}\n[instances]\napi = ["v1"]\n[plugins.metrics]\nuse = "prometheus-exporter"\npublic = true\nlisten = "127.0.0.1:${port}"\n`);
    await running(ten, 'api', 'v1');
    const open = await ten.get('localhost', '/metrics');
    assert.equal(open.status, 200);
    assert.ok(parse(open.body).has('tenement_instance_state'));
    assert.equal((await ten.api('GET', '/api/stats', undefined, null)).status, 401, 'the live stats keep the token');
    const own = await request(port, 'anything', '/metrics');
    assert.equal(own.status, 200);
    assert.match(String(own.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.equal(value(parse(own.body), 'tenement_instance_weight', { service: 'api', instance: 'v1' }), 100);
    assert.equal((await request(port, 'anything', '/api/instances')).status, 404);
    assert.equal((await request(port, 'anything', '/metrics', { method: 'POST' })).status, 405);
    // the listener closes with ten serve
    assert.equal(await ten.stop(), 0);
    await assert.rejects(request(port, 'anything', '/metrics', { timeoutMs: 2000 }));
  });

  test('a bad listen is a config error naming the option; a taken port stops ten serve from starting', async () => {
    const config = (listen: string, pub = true) => `${fixtureService('api')}\n[plugins.metrics]\nuse = "prometheus-exporter"\n${pub ? 'public = true\n' : ''}listen = "${listen}"\n`;
    const dir = mkdtempSync(join(tmpdir(), 'ten-metrics-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const check = async (toml: string) => {
      const path = join(dir, `bad-${Math.random().toString(36).slice(2)}.toml`);
      writeFileSync(path, `[settings]\ndata_dir = "./data"\n${toml}`);
      // `ten config` in this process (cli/index.ts): what ten serve would say, without its start-up
      let stderr = '';
      const out = new PassThrough();
      const err = new PassThrough().on('data', (c) => { stderr += c; });
      const code = await runCliInProcess(['config', '--config', path], { ...Cli.defaultContext, stdout: out, stderr: err, colorDepth: 1 });
      return { code, stdout: '', stderr };
    };
    for (const bad of ['9464', 'localhost:99999', '[zz]:9464', 'a b:1']) {
      const r = await check(config(bad));
      assert.equal(r.code, 1, `${bad}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /TEN_ERR_PLUGIN_INVALID_OPTIONS: invalid options for plugin prometheus-exporter: listen /);
      assert.match(r.stderr, /\(plugins\.metrics\.listen, bad-[a-z0-9]+\.toml:\d+\)/);
    }
    const nopub = await check(config('127.0.0.1:9464', false));
    assert.equal(nopub.code, 1);
    assert.match(nopub.stderr, /listen needs public = true/);
    // the port is taken (by another ten serve): this one does not start, and says why
    const taken = await startTen('');
    await assert.rejects(startTen(config(`127.0.0.1:${taken.port}`)), /TEN_ERR_METRICS_LISTEN_FAILED[^\n]*127\.0\.0\.1:\d+: EADDRINUSE/);
  });
});

describe('GET /api/stats', () => {
  test('rate, 5xx ratio, p99, CPU and memory per instance over 10 s; history every 5 s; the event stream', async () => {
    const ten = await startTen(`[settings]\nhealth_interval = 60\n${fixtureService('api')}\n[instances]\napi = ["v1", "v2"]\n`);
    const { pid } = await running(ten, 'api', 'v1');
    await running(ten, 'api', 'v2');
    const t0 = Date.now();
    assert.equal((await ten.get('v1.api.localhost', '/sick')).status, 200);
    for (let i = 0; i < 24; i++) assert.equal((await ten.get('v1.api.localhost', '/')).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await ten.get('v1.api.localhost', '/health')).status, 503);
    // the window is made of whole seconds: wait for the current one to end
    await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
    const r = await ten.api('GET', '/api/stats');
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 < 9000, 'all 30 requests are inside the 10 s window');
    const s = r.json<StatsView>();
    assert.equal(s.window_seconds, 10);
    assert.ok(Math.abs(s.at - Date.now()) < 5000);
    assert.deepEqual(s.instances.map((i) => i.instance), ['v1', 'v2']);
    const [a, b] = s.instances;
    assert.equal(a.service, 'api');
    assert.equal(a.state, 'running');
    assert.equal(a.weight, 100);
    assert.equal(a.requests_per_second, 3, '30 requests / 10 s');
    assert.equal(a.error_ratio, Number((5 / 30).toPrecision(4)));
    assert.ok(a.p99_seconds !== null && a.p99_seconds > 0 && a.p99_seconds < 5, String(a.p99_seconds));
    assert.ok(a.cpu_ratio >= 0 && a.cpu_ratio < 2.5, String(a.cpu_ratio));
    const rss = vmRss(pid);
    assert.ok(Math.abs(a.memory_bytes - rss) < rss * 0.25, `memory ${a.memory_bytes} vs VmRSS ${rss}`);
    assert.equal(b.requests_per_second, 0);
    assert.equal(b.p99_seconds, null, 'no requests, no p99');
    assert.equal(b.error_ratio, 0);
    for (const i of s.instances) {
      const h = i.history!;
      const n = h.t.length;
      assert.ok(n <= 60);
      for (const k of ['requests_per_second', 'error_ratio', 'p99_seconds', 'cpu_ratio', 'memory_bytes'] as const) assert.equal(h[k].length, n, k);
    }
    // a history point every 5 s
    const withPoint = await waitFor('a history point', async () => {
      const v = (await ten.api('GET', '/api/stats')).json<StatsView>();
      return v.instances[0].history!.t.length >= 1 ? v : undefined;
    }, 12_000);
    const h = withPoint.instances[0].history!;
    assert.ok(h.memory_bytes.at(-1)! > 0);
    assert.ok(Math.abs(h.t.at(-1)! - Date.now()) < 15_000);

    // the stream: text/event-stream, a `stats` event at once and one every 2 s, without history
    const events: StatsView[] = [];
    let type = '';
    const req = http.request({ host: '127.0.0.1', port: ten.port, path: '/api/stats/stream', headers: { host: 'localhost', authorization: `Bearer ${ten.token}` } });
    const got = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        type = String(res.headers['content-type']);
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) {
            const block = buf.slice(0, i);
            const data = /^event: stats\ndata: (.*)$/m.exec(block);
            if (data) events.push(JSON.parse(data[1]));
            if (events.length === 2) resolve();
          }
        });
      });
      req.on('error', reject);
    });
    req.end();
    await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error('no 2 events in 8 s')), 8000))]);
    req.destroy();
    assert.match(type, /^text\/event-stream/);
    assert.ok(events[1].at - events[0].at >= 1000 && events[1].at - events[0].at <= 3500, `events ${events[1].at - events[0].at} ms apart`);
    for (const e of events) {
      assert.deepEqual(e.instances.map((i) => i.instance), ['v1', 'v2']);
      assert.equal(e.instances[0].history, undefined);
      assert.equal(typeof e.instances[0].cpu_ratio, 'number');
    }
  });

  test('at most 32 streams at once; a closed one frees its place', async () => {
    const ten = await startTen(`${fixtureService('api')}\n[instances]\napi = ["v1"]\n`);
    /** Open a stream; resolves with its status once the head arrived (and the request, to close it). */
    const open = () => new Promise<{ status: number; req: http.ClientRequest; body: Promise<string> }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: ten.port, path: '/api/stats/stream', agent: false, headers: { host: 'localhost', authorization: `Bearer ${ten.token}` } });
      req.on('response', (res) => {
        const body = new Promise<string>((r) => { let b = ''; res.on('data', (c) => { b += c; }); res.on('end', () => r(b)); res.on('error', () => r(b)); });
        resolve({ status: res.statusCode!, req, body });
      });
      req.on('error', reject);
      req.end();
    });
    const streams = [];
    for (let i = 0; i < 32; i++) streams.push(await open());
    assert.deepEqual(new Set(streams.map((x) => x.status)), new Set([200]));
    const refused = await open();
    assert.equal(refused.status, 503);
    assert.match(await refused.body, /"code":"TEN_ERR_METRICS_TOO_MANY_STREAMS"/);
    streams.pop()!.req.destroy();
    const again = await waitFor('a free place', async () => {
      const s = await open();
      if (s.status === 200) return s;
      s.req.destroy();
      return undefined;
    });
    for (const s of [...streams, again]) s.req.destroy();
  });

  test('with the metrics slot off there is no /metrics and no /api/stats', async () => {
    const ten = await startTen(`${fixtureService('api')}\n[plugins.metrics]\nuse = false\n`);
    assert.equal((await ten.api('GET', '/metrics')).status, 404);
    assert.equal((await ten.api('GET', '/api/stats')).status, 404);
  });
});
