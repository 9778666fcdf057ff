// Hostile clients against a real `ten serve` (the proxy data path of issue 7): a pipelined flood
// that never reads its answers, 300 slow uploads to one instance, 400 randomly aborted requests,
// and apps that stall, go mute or are killed mid-answer. Each describe runs its own ten serve (so a
// server ruined by one case does not fail the next) and stops it in after(). Every wait and every
// loop is bounded in count and time: a misbehaving server fails the test, it never hangs it.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { cleanup, FIXTURE_APP, fixtureService, request, ROOT, sleep, startTen, waitFor, type Ten } from './harness.ts';

const HOSTILE_APP = join(ROOT, 'test/fixtures/hostile-app.mjs');

/** Every raw socket this file opens; whatever is still open is destroyed in after(). */
const sockets = new Set<net.Socket>();
/** Every instance pid seen; any still alive (and still ours) is killed in after(). */
const appPids = new Set<number>();

after(async () => {
  for (const s of sockets) s.destroy();
  await cleanup();
  killLeftoverApps();
});

/** A [service.NAME] table running test/fixtures/hostile-app.mjs. */
function hostileService(name: string, extra = ''): string {
  return `[service.${name}]\nargs = ["${process.execPath}", "${HOSTILE_APP}"]\nhealth = "/health"\n${extra}\n`;
}

/** Every server here: quick restarts, and a short drain so stopping it never waits on a stalled request. */
const SETTINGS = ['[settings]', 'backoff_base = 0.2', 'drain_timeout = 1'];

// ---------------------------------------------------------------------------------------------
// Helpers: raw connections, timed requests, the management API, /proc
// ---------------------------------------------------------------------------------------------

function connect(port: number): net.Socket {
  const s = net.connect(port, '127.0.0.1');
  sockets.add(s);
  s.on('error', () => {}); // resets are part of the game; 'close' tells the rest
  s.once('close', () => sockets.delete(s));
  return s;
}

/** Resolves true once `pred()` holds (checked every 10 ms), false after `ms`. */
function until(pred: () => boolean, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (pred()) return resolve(true);
    const deadline = Date.now() + ms;
    const timer = setInterval(() => {
      if (pred()) { clearInterval(timer); resolve(true); } else if (Date.now() >= deadline) { clearInterval(timer); resolve(false); }
    }, 10);
  });
}

/**
 * One raw client connection that reads one HTTP/1.1 response (1xx skipped) and records when its
 * head, its first body byte, its end and the connection's close arrived, and whether the body
 * was complete (content-length reached, or the last chunk seen).
 */
class Raw {
  readonly socket: net.Socket;
  readonly t0 = Date.now();
  status?: number;
  headers: Record<string, string> = {};
  headAt?: number;
  firstBodyAt?: number;
  /** When the server ended or reset the connection (or we destroyed it). */
  closedAt?: number;
  error?: string;
  complete = false;
  private pending: Buffer = Buffer.alloc(0);
  private rawBody: Buffer = Buffer.alloc(0);
  private decoded: Buffer = Buffer.alloc(0);

  constructor(port: number, first?: string | Buffer) {
    this.socket = connect(port);
    if (first !== undefined) this.socket.write(first);
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e: NodeJS.ErrnoException) => { this.error ??= e.code ?? e.message; });
    this.socket.once('end', () => { this.closedAt ??= Date.now(); this.onEnd(); });
    this.socket.once('close', () => { this.closedAt ??= Date.now(); });
  }

  write(d: string | Buffer): void { if (!this.socket.destroyed) this.socket.write(d); }
  destroy(): void { this.socket.destroy(); }
  get closed(): boolean { return this.closedAt !== undefined; }
  get done(): boolean { return this.complete || this.closed; }
  body(): string { return this.decoded.toString(); }
  json(): Record<string, unknown> {
    try { return JSON.parse(this.body()); } catch { return {}; }
  }
  /** What happened, for assertion messages. */
  describe(): string {
    const at = (t?: number) => (t === undefined ? '-' : `${t - this.t0} ms`);
    return `status ${this.status ?? '-'} (head ${at(this.headAt)}, closed ${at(this.closedAt)}, complete ${this.complete}` +
      `${this.error ? `, ${this.error}` : ''}) ${this.body().slice(0, 200)}`;
  }

  private onData(d: Buffer): void {
    if (this.status === undefined) {
      this.pending = Buffer.concat([this.pending, d]);
      for (;;) {
        const end = this.pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [line, ...lines] = this.pending.subarray(0, end).toString('latin1').split('\r\n');
        const rest = this.pending.subarray(end + 4);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(line);
        if (!m) { this.error = `bad status line ${JSON.stringify(line)}`; this.pending = Buffer.alloc(0); return; }
        const status = Number(m[1]);
        if (status >= 100 && status < 200 && status !== 101) { this.pending = rest; continue; }
        this.status = status;
        this.headAt = Date.now();
        for (const l of lines) {
          const i = l.indexOf(':');
          if (i > 0) this.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        this.pending = Buffer.alloc(0);
        if (status === 101 || status === 204 || status === 304 || this.headers['content-length'] === '0') this.complete = true;
        d = rest;
        break;
      }
    }
    if (d.length === 0 || this.status === 101) return;
    this.firstBodyAt ??= Date.now();
    if (this.rawBody.length < 4 << 20) this.rawBody = Buffer.concat([this.rawBody, d]);
    if (/chunked/i.test(this.headers['transfer-encoding'] ?? '')) {
      const c = dechunk(this.rawBody);
      this.decoded = c.data;
      this.complete = c.done;
    } else {
      this.decoded = this.rawBody;
      const len = this.headers['content-length'];
      if (len !== undefined && this.rawBody.length >= Number(len)) this.complete = true;
    }
  }

  private onEnd(): void {
    // no framing: the body ends with the connection
    if (this.status !== undefined && this.headers['content-length'] === undefined && !/chunked/i.test(this.headers['transfer-encoding'] ?? '')) this.complete = true;
  }
}

/** Decode as much of a chunked body as has arrived; done once the last chunk (and its CRLF) is in. */
function dechunk(buf: Buffer): { data: Buffer; done: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (let n = 0; n < 100_000; n++) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(at, eol).toString('latin1').split(';')[0], 16);
    if (Number.isNaN(size)) break;
    if (size === 0) return { data: Buffer.concat(parts), done: buf.indexOf('\r\n\r\n', eol) === eol || buf.indexOf('\r\n', eol + 2) >= 0 };
    if (buf.length < eol + 2 + size + 2) { parts.push(buf.subarray(eol + 2, Math.min(buf.length, eol + 2 + size))); break; }
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return { data: Buffer.concat(parts), done: false };
}

interface Timed { status: number | null; ms: number; headers: http.IncomingHttpHeaders; body: string; error?: string }

/** One request on a fresh connection; never waits more than `hardMs` (then status null). */
function timedGet(port: number, host: string, path: string, hardMs: number): Promise<Timed> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (t: Omit<Timed, 'ms'>) => { if (!settled) { settled = true; clearTimeout(timer); resolve({ ...t, ms: Date.now() - t0 }); } };
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish({ status: res.statusCode ?? null, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', (e) => finish({ status: null, headers: res.headers, body: '', error: e.message }));
    });
    const timer = setTimeout(() => { finish({ status: null, headers: {}, body: '', error: `no answer in ${hardMs} ms` }); req.destroy(); }, hardMs);
    req.on('error', (e) => finish({ status: null, headers: {}, body: '', error: e.message }));
    req.end();
  });
}

function codeOf(body: string): string | undefined {
  try { return (JSON.parse(body) as { code?: string }).code; } catch { return undefined; }
}

interface InstanceView { key: string; state: string; pid: number | null; inflight: number; restarts: number }

/** GET /api/instances on the management host, bounded to 3 s. */
async function instances(ten: Ten, service?: string): Promise<InstanceView[]> {
  const r = await request(ten.port, 'localhost', `/api/instances${service ? `?service=${service}` : ''}`,
    { headers: { authorization: `Bearer ${ten.token}` }, timeoutMs: 3000 });
  assert.equal(r.status, 200, r.body);
  const list = r.json<{ instances: InstanceView[] }>().instances;
  for (const i of list) if (i.pid) appPids.add(i.pid);
  return list;
}

async function instance(ten: Ten, key: string): Promise<InstanceView> {
  const i = (await instances(ten)).find((x) => x.key === key);
  assert.ok(i, `no instance ${key}`);
  return i;
}

/** Wait for the instances `keys` to run; returns them. */
function allRunning(ten: Ten, keys: string[]): Promise<InstanceView[]> {
  return waitFor(`${keys.join(', ')} running`, async () => {
    const list = await instances(ten);
    const got = keys.map((k) => list.find((i) => i.key === k));
    return got.every((i) => i?.state === 'running' && i.pid) ? (got as InstanceView[]) : undefined;
  }, 20_000);
}

/** Every instance's (of `services`, default all) inflight back to 0 within `ms`; fails with the counts otherwise. */
async function assertInflightDrains(ten: Ten, ms: number, what: string, services?: string[]): Promise<void> {
  let last: InstanceView[] = [];
  const deadline = Date.now() + ms;
  for (let n = 0; n < 200; n++) {
    last = (await instances(ten)).filter((i) => !services || services.some((s) => i.key.startsWith(`${s}:`)));
    if (last.every((i) => i.inflight === 0)) return;
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  assert.fail(`${what}: inflight not back to 0 within ${ms} ms: ${last.map((i) => `${i.key}=${i.inflight}`).join(', ')}`);
}

/** VmRSS of `pid` in MB, or null when the process is gone. */
function rssMb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** true when `pid` itself holds the listening socket of `port` (so its RSS is the server's). */
function listensOn(pid: number, port: number): boolean {
  const inodes = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9 && c[3] === '0A' && parseInt(c[1].split(':')[1], 16) === port) inodes.add(c[9]);
    }
  }
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1])) return true;
    } catch { /* fd closed meanwhile */ }
  }
  return false;
}

function killLeftoverApps(): void {
  for (const pid of appPids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(FIXTURE_APP) || cmd.includes(HOSTILE_APP)) process.kill(pid, 'SIGKILL');
    } catch { /* gone */ }
  }
}

/** Stop one ten serve: SIGTERM, SIGKILL if it takes more than 5 s, then any app it left behind. */
async function stopTen(ten: Ten | undefined): Promise<void> {
  if (!ten) return;
  await instances(ten).catch(() => []);
  const r = await Promise.race([ten.stop(), sleep(5000, { unref: true }).then(() => 'slow' as const)]);
  if (r === 'slow') await Promise.race([ten.stop('SIGKILL'), sleep(2000, { unref: true })]);
  killLeftoverApps();
}

// ---------------------------------------------------------------------------------------------
// 1. Pipelined flood: connections that write GETs as fast as they can and never read an answer
// ---------------------------------------------------------------------------------------------

const RSS_LIMIT_MB = 300;
const PROBE_LIMIT_MS = 1000;
const FLOOD_MS = 8000;
const FLOOD_REQ = 'GET / HTTP/1.1\r\nHost: api.localhost\r\n\r\n';
/** ~160 KB of whole requests per write, so no write ends inside a request head. */
const FLOOD_CHUNK = Buffer.from(FLOOD_REQ.repeat(4096));

interface Probe { what: string; phase: string; status: number | null; ms: number; error?: string }

describe('pipelined flood that never reads', { timeout: 60_000 }, () => {
  let ten: Ten;
  before(async () => {
    ten = await startTen([...SETTINGS, fixtureService('api'), '[instances]', 'api = ["v1"]'].join('\n'));
    await allRunning(ten, ['api:v1']);
  }, { timeout: 30_000 });
  after(() => stopTen(ten));

  test('the measured pid is ten serve itself (it holds the listening socket)', () => {
    const pid = ten.child.pid!;
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '), /bin\/ten\.js serve/);
    assert.ok(listensOn(pid, ten.port), `pid ${pid} does not hold the listening socket of port ${ten.port}`);
  });

  for (const conns of [1, 3]) {
    test(`${conns} connection(s) × ${FLOOD_MS / 1000} s: RSS < ${RSS_LIMIT_MB} MB, probes answer within ${PROBE_LIMIT_MS} ms`, { timeout: 30_000 }, async (t) => {
      await floodCase(t, ten, conns);
    });
  }
});

async function floodCase(t: TestContext, ten: Ten, conns: number): Promise<void> {
  const pid = ten.child.pid!;
  const baseline = rssMb(pid);
  assert.ok(baseline !== null, 'ten serve is gone before the flood');
  assert.ok(baseline < RSS_LIMIT_MB, `ten serve's RSS is ${baseline.toFixed(0)} MB before this flood (limit ${RSS_LIMIT_MB}): not given back since the last one`);
  let phase = 'flood';
  let aborted = '';
  const rss: Array<{ phase: string; mb: number }> = [];
  const probes: Probe[] = [];
  const flooders: net.Socket[] = [];
  const stats = { connections: 0, closedByServer: 0, chunks: 0 };
  const endAt = Date.now() + FLOOD_MS;

  /** Stop everything at once: over the RSS limit (no need to watch it reach gigabytes), or the server died. */
  const abort = (why: string) => {
    if (aborted) return;
    aborted = why;
    for (const s of flooders) s.destroy();
  };

  // one flooder: write whole requests while the kernel takes them, wait for 'drain' otherwise;
  // never read. If the server closes the connection, open another (the volume must not drop).
  const flooder = async () => {
    for (let n = 0; n < 50 && Date.now() < endAt && !aborted; n++) {
      const s = connect(ten.port);
      s.pause();
      flooders.push(s);
      stats.connections += 1;
      let closed = false;
      let connected = false;
      s.once('connect', () => { connected = true; });
      s.once('close', () => { closed = true; if (!connected) abort('could not connect to ten serve'); });
      while (!closed && !aborted && Date.now() < endAt) {
        stats.chunks += 1;
        if (s.write(FLOOD_CHUNK)) continue;
        await new Promise<void>((resolve) => {
          const done = () => { clearTimeout(timer); s.off('drain', done); s.off('close', done); resolve(); };
          const timer = setTimeout(done, Math.max(0, endAt - Date.now()));
          s.once('drain', done);
          s.once('close', done);
        });
      }
      if (closed && !aborted) stats.closedByServer += 1;
      if (!closed) break; // the time is up: keep it open (and unread) for the next phase
    }
  };

  const sampler = (async () => {
    for (let n = 0; n < 200 && phase !== 'done'; n++) {
      const mb = rssMb(pid);
      if (mb === null) { abort('ten serve exited'); break; }
      rss.push({ phase, mb });
      if (mb > RSS_LIMIT_MB) abort(`RSS ${mb.toFixed(0)} MB > ${RSS_LIMIT_MB} MB`);
      await sleep(250);
    }
  })();

  const prober = (async () => {
    for (let n = 0; n < 200 && phase !== 'done'; n++) {
      const tick = Date.now();
      const p = phase;
      const [a, h] = await Promise.all([
        timedGet(ten.port, 'api.localhost', '/', 2000),
        timedGet(ten.port, 'localhost', '/health', 2000),
      ]);
      probes.push({ what: 'GET api.localhost/', phase: p, status: a.status, ms: a.ms, error: a.error },
        { what: 'GET localhost/health', phase: p, status: h.status, ms: h.ms, error: h.error });
      await sleep(Math.max(0, 250 - (Date.now() - tick)));
    }
  })();

  try {
    await Promise.all(Array.from({ length: conns }, flooder));
    // 'held': nothing written any more, the connections stay open and unread
    phase = 'held';
    await sleep(1000);
    // 'closed': the flooders go away
    phase = 'closed';
    for (const s of flooders) s.destroy();
    await sleep(1500);
  } finally {
    phase = 'done';
    for (const s of flooders) s.destroy();
    await Promise.all([sampler, prober]);
  }

  const flushed = stats.chunks * FLOOD_CHUNK.length - flooders.reduce((a, s) => a + s.writableLength, 0);
  const peak = Math.max(...rss.map((r) => r.mb));
  const byPhase = (p: string) => probes.filter((x) => x.phase === p);
  const worst = (list: Probe[]) => (list.length ? Math.max(...list.map((x) => x.ms)) : NaN);
  t.diagnostic(`RSS baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB; ` +
    `flood offered ~${(flushed / 1e6).toFixed(1)} MB (~${Math.round(flushed / FLOOD_REQ.length)} requests) on ${stats.connections} connection(s), ` +
    `${stats.closedByServer} closed by the server; probes: ${probes.length}, worst ${worst(byPhase('flood'))} ms during, ` +
    `${worst(byPhase('held'))} ms held, ${worst(byPhase('closed'))} ms after${aborted ? `; aborted: ${aborted}` : ''}`);

  assert.ok(ten.child.exitCode === null && ten.child.signalCode === null, `ten serve died during the flood:\n${ten.output().slice(-2000)}`);
  assert.ok(peak < RSS_LIMIT_MB, `ten serve RSS reached ${peak.toFixed(0)} MB (limit ${RSS_LIMIT_MB}); ${aborted}`);
  assert.equal(aborted, '', aborted);
  assert.ok(byPhase('flood').length >= 10, `only ${byPhase('flood').length} probes during the flood`);
  assert.ok(byPhase('closed').length >= 2, `only ${byPhase('closed').length} probes after the flood`);
  const bad = probes.filter((x) => x.status !== 200 || x.ms >= PROBE_LIMIT_MS);
  assert.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${probes.length} probes failed or took ≥ ${PROBE_LIMIT_MS} ms`);
  await assertInflightDrains(ten, 5000, 'after the flood');
}

// ---------------------------------------------------------------------------------------------
// 2. 300 slow uploads to one instance (max_connections 50, max_queue 100, queue_timeout 1 s,
//    client_body_timeout 5 s) — and 4. a stalled app (response_idle_timeout 2 s), same server
// ---------------------------------------------------------------------------------------------

const UPLOADS = 300;
const QUEUE_TIMEOUT_S = 1;
const BODY_TIMEOUT_S = 5;
const UP = 'u1.up.localhost';

describe('bounds: slow uploads, stalled responses', { timeout: 60_000 }, () => {
  let ten: Ten;
  before(async () => {
    ten = await startTen([
      ...SETTINGS, `client_body_timeout = ${BODY_TIMEOUT_S}`,
      fixtureService('up', `max_connections = 50\nmax_queue = 100\nqueue_timeout = ${QUEUE_TIMEOUT_S}`),
      hostileService('hostile', 'response_idle_timeout = 2'),
      '[instances]', 'up = ["u1"]', 'hostile = ["h1"]',
    ].join('\n'));
    await allRunning(ten, ['up:u1', 'hostile:h1']);
  }, { timeout: 30_000 });
  after(() => stopTen(ten));

  /** 200, or 503 QUEUE_TIMEOUT / QUEUE_FULL with a numeric retry-after; within queue_timeout + 1 s. */
  function assertAnsweredInTime(r: Timed, what: string): void {
    const limit = (QUEUE_TIMEOUT_S + 1) * 1000;
    assert.ok(r.status !== null && r.ms <= limit, `${what}: no answer within ${limit} ms (${r.error ?? `${r.status} after ${r.ms} ms`})`);
    if (r.status === 200) return;
    assert.equal(r.status, 503, `${what}: ${r.status} ${r.body}`);
    assert.ok(['TEN_ERR_ROUTE_QUEUE_TIMEOUT', 'TEN_ERR_ROUTE_QUEUE_FULL'].includes(codeOf(r.body) ?? ''), `${what}: ${r.body}`);
    assert.match(String(r.headers['retry-after']), /^\d+$/, `${what}: retry-after`);
  }

  test(`${UPLOADS} uploads that send 1 byte of 1 MB: others still get an answer; the uploads are cut after client_body_timeout`, { timeout: 25_000 }, async (t) => {
    const head = `POST /echo HTTP/1.1\r\nHost: ${UP}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\nx`;
    const t0 = Date.now();
    const uploads = Array.from({ length: UPLOADS }, () => new Raw(ten.port, head));
    try {
      await uploadsCase(t, t0, uploads);
    } finally {
      for (const u of uploads) u.destroy();
    }

    // the instance serves again, and nothing is left in flight
    const ok = await waitFor('GET 200 after the uploads were cut', async () => {
      const r = await timedGet(ten.port, UP, '/', 2000);
      return r.status === 200 ? r : undefined;
    }, 3000);
    assert.equal(JSON.parse(ok.body).instance, 'up:u1');
    await assertInflightDrains(ten, 3000, 'after the uploads');
  });

  async function uploadsCase(t: TestContext, t0: number, uploads: Raw[]): Promise<void> {
    await until(() => uploads.every((u) => u.socket.readyState !== 'opening'), 3000);
    await sleep(400);

    // while 50 uploads hold every upstream connection and the queue is (or was) full
    // (waits at most 2.5 s: the bound is queue_timeout + 1 s)
    const early = await timedGet(ten.port, UP, '/', (QUEUE_TIMEOUT_S + 1.5) * 1000);
    assertAnsweredInTime(early, 'GET during the uploads');
    const health = await timedGet(ten.port, 'localhost', '/health', 3000);
    assert.ok(health.status === 200 && health.ms < 1000, `management /health during the uploads: ${health.status} in ${health.ms} ms ${health.error ?? ''}`);
    // once the queued uploads have timed out: a GET queues behind the 50 busy connections
    await sleep(Math.max(0, t0 + (QUEUE_TIMEOUT_S + 0.5) * 1000 - Date.now()));
    const later = await timedGet(ten.port, UP, '/', (QUEUE_TIMEOUT_S + 1.5) * 1000);
    assertAnsweredInTime(later, 'GET after queue_timeout');

    // every upload is answered (408, or 503 from the queue) or closed by client_body_timeout + 3 s
    const deadline = t0 + (BODY_TIMEOUT_S + 3) * 1000;
    await until(() => uploads.every((u) => u.done), Math.max(0, deadline - Date.now()));
    const count = (f: (u: Raw) => boolean) => uploads.filter(f).length;
    t.diagnostic(`GET during: ${early.status} ${codeOf(early.body) ?? ''} in ${early.ms} ms; after queue_timeout: ${later.status} ${codeOf(later.body) ?? ''} in ${later.ms} ms; ` +
      `uploads: ${count((u) => u.status === 503 && codeOf(u.body()) === 'TEN_ERR_ROUTE_QUEUE_FULL')} QUEUE_FULL, ` +
      `${count((u) => u.status === 503 && codeOf(u.body()) === 'TEN_ERR_ROUTE_QUEUE_TIMEOUT')} QUEUE_TIMEOUT, ${count((u) => u.status === 408)} × 408, ` +
      `${count((u) => u.status === undefined && u.closed)} closed without an answer, ${count((u) => !u.done)} still open`);
    const open = uploads.filter((u) => !u.done);
    assert.equal(open.length, 0, `${open.length} uploads neither answered nor closed ${BODY_TIMEOUT_S + 3} s after they went silent: ${open[0]?.describe()}`);
    for (const u of uploads) {
      if (u.status === undefined) continue; // closed without an answer: allowed
      if (u.status === 408) {
        assert.ok(u.headAt! - t0 >= (BODY_TIMEOUT_S - 1) * 1000, `408 long before client_body_timeout: ${u.describe()}`);
        if (u.body().startsWith('{')) assert.equal(codeOf(u.body()), 'TEN_ERR_HTTP_REQUEST_TIMEOUT', u.describe());
        continue;
      }
      assert.equal(u.status, 503, `an upload of 1 byte out of 1 MB got ${u.describe()}`);
      assert.ok(['TEN_ERR_ROUTE_QUEUE_TIMEOUT', 'TEN_ERR_ROUTE_QUEUE_FULL'].includes(codeOf(u.body()) ?? ''), u.describe());
      assert.match(u.headers['retry-after'] ?? '', /^\d+$/, `retry-after: ${u.describe()}`);
    }
  }

  test('a stalled app (head, then silence) is cut after response_idle_timeout (2 s); a slow but live one is not', { timeout: 15_000 }, async () => {
    const stall = new Raw(ten.port, 'GET /stall HTTP/1.1\r\nHost: h1.hostile.localhost\r\n\r\n');
    // a chunk every 500 ms for 3 s: longer than the idle timeout in total, never idle that long
    const drip = new Raw(ten.port, 'GET /drip?every=500&ms=3000 HTTP/1.1\r\nHost: h1.hostile.localhost\r\n\r\n');
    await until(() => stall.closed && drip.done, 6000);
    try {
      assert.equal(stall.status, 200, `the head the stalled app flushed at once never reached the client: ${stall.describe()}`);
      assert.ok(stall.headAt! - stall.t0 < 1000, `the stalled response's head took ${stall.headAt! - stall.t0} ms to arrive`);
      assert.ok(stall.closed, `the stalled response was not cut within 6 s: ${stall.describe()}`);
      const cutAfter = stall.closedAt! - stall.t0;
      assert.ok(cutAfter >= 1500 && cutAfter <= 3500, `stalled response cut after ${cutAfter} ms (response_idle_timeout = 2 s)`);
      assert.equal(stall.complete, false, 'the stalled body cannot be complete');
      assert.equal(drip.status, 200, `drip: ${drip.describe()}`);
      assert.ok(drip.complete, `a response with a chunk every 500 ms was cut: ${drip.describe()}`);
      assert.match(drip.body(), /done\n$/);
    } finally {
      stall.destroy();
      drip.destroy();
    }
    await assertInflightDrains(ten, 3000, 'after the stalled response');
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Random client aborts — and 4. apps killed or mute mid-request (existing config keys only)
// ---------------------------------------------------------------------------------------------

type Cut = { at: 'head' | 'sent' | 'response'; frac: number; delayMs: number };
type Shape =
  | { kind: 'slow'; host: string; ms: number; cut: Cut }
  | { kind: 'stream'; host: string; ms: number; cut: Cut }
  | { kind: 'upload'; host: string; length: number; sentFrac: number; cut: Cut }
  | { kind: 'pipelined'; host: string; ms: [number, number]; cut: Cut }
  | { kind: 'ws'; host: string; cut: Cut };

const CHURN_HOSTS = ['churn.localhost', 'c1.churn.localhost', 'c2.churn.localhost'];
const ABORTS = 400;
const cutArb: fc.Arbitrary<Cut> = fc.record({
  at: fc.constantFrom('head' as const, 'sent' as const, 'response' as const),
  frac: fc.double({ min: 0, max: 0.999, noNaN: true }),
  delayMs: fc.integer({ min: 0, max: 200 }),
});
const hostArb = fc.constantFrom(...CHURN_HOSTS);
const shapeArb: fc.Arbitrary<Shape> = fc.oneof(
  fc.record({ kind: fc.constant('slow' as const), host: hostArb, ms: fc.integer({ min: 0, max: 400 }), cut: cutArb }),
  fc.record({ kind: fc.constant('stream' as const), host: hostArb, ms: fc.integer({ min: 100, max: 600 }), cut: cutArb }),
  fc.record({ kind: fc.constant('upload' as const), host: hostArb, length: fc.integer({ min: 1000, max: 200_000 }), sentFrac: fc.double({ min: 0, max: 0.99, noNaN: true }), cut: cutArb }),
  fc.record({ kind: fc.constant('pipelined' as const), host: hostArb, ms: fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 })), cut: cutArb }),
  fc.record({ kind: fc.constant('ws' as const), host: hostArb, cut: cutArb }),
);

/** The bytes of a shape's request, and how many of them are its (first) request head. */
function shapeBytes(s: Shape): { bytes: Buffer; headLen: number } {
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: ${s.host}\r\n\r\n`;
  switch (s.kind) {
    case 'slow': { const h = get(`/slow?ms=${s.ms}`); return { bytes: Buffer.from(h), headLen: h.length }; }
    case 'stream': { const h = get(`/stream?ms=${s.ms}`); return { bytes: Buffer.from(h), headLen: h.length }; }
    case 'pipelined': { const b = get(`/slow?ms=${s.ms[0]}`) + get(`/slow?ms=${s.ms[1]}`); return { bytes: Buffer.from(b), headLen: b.length }; }
    case 'ws': {
      const h = `GET /ws HTTP/1.1\r\nHost: ${s.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
      return { bytes: Buffer.from(h), headLen: h.length };
    }
    case 'upload': {
      const h = `POST /echo HTTP/1.1\r\nHost: ${s.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${s.length}\r\n\r\n`;
      // cut mid-response: the whole body goes (the app answers once it has it); otherwise part of it
      const sent = s.cut.at === 'response' ? s.length : Math.floor(s.sentFrac * s.length);
      return { bytes: Buffer.concat([Buffer.from(h), Buffer.alloc(sent, 0x61)]), headLen: h.length };
    }
  }
}

/** Send a shape's request and destroy the socket where its cut says; at most ~3 s. */
async function runShape(port: number, s: Shape): Promise<void> {
  const { bytes, headLen } = shapeBytes(s);
  const sock = connect(port);
  let got = 0;
  sock.on('data', (d: Buffer) => { got += d.length; });
  try {
    if (!(await until(() => sock.readyState === 'open' || sock.destroyed, 2000))) return;
    if (s.cut.at === 'head') {
      // before the head is complete (0 bytes: connect, then go)
      const n = Math.floor(s.cut.frac * (s.kind === 'pipelined' ? bytes.length : headLen));
      if (n > 0) sock.write(bytes.subarray(0, n));
      await sleep(s.cut.delayMs);
    } else if (s.cut.at === 'sent') {
      sock.write(bytes);
      await sleep(s.cut.delayMs);
    } else {
      sock.write(bytes);
      await until(() => got > 0 || sock.destroyed, 2000);
      await sleep(s.cut.delayMs % 50);
    }
  } finally {
    sock.destroy();
  }
}

describe('random client aborts; apps that are killed or mute', { timeout: 60_000 }, () => {
  let ten: Ten;
  before(async () => {
    ten = await startTen([
      ...SETTINGS,
      fixtureService('churn'),
      hostileService('victim'),
      hostileService('mute', 'request_timeout = 2'),
      '[instances]', 'churn = ["c1", "c2"]', 'victim = ["k1", "k2", "k3"]', 'mute = ["m1"]',
    ].join('\n'));
    await allRunning(ten, ['churn:c1', 'churn:c2', 'victim:k1', 'victim:k2', 'victim:k3', 'mute:m1']);
  }, { timeout: 30_000 });
  after(() => stopTen(ten));

  test(`${ABORTS} requests of random shapes, aborted at random points: inflight returns to 0`, { timeout: 30_000 }, async (t) => {
    const shapes = fc.sample(shapeArb, { seed: 0x7e4e, numRuns: ABORTS });
    const kinds: Record<string, number> = {};
    for (const s of shapes) kinds[`${s.kind}/${s.cut.at}`] = (kinds[`${s.kind}/${s.cut.at}`] ?? 0) + 1;
    const before = await instances(ten, 'churn');
    const t0 = Date.now();
    let next = 0;
    // 40 at a time; each shape is bounded (~3 s), so is the whole run
    await Promise.all(Array.from({ length: 40 }, async () => {
      while (next < shapes.length && Date.now() - t0 < 20_000) await runShape(ten.port, shapes[next++]);
    }));
    const ran = next;
    const right = await instances(ten, 'churn');
    t.diagnostic(`${ran} shapes in ${Date.now() - t0} ms (${JSON.stringify(kinds)}); inflight right after: ${right.map((i) => `${i.key}=${i.inflight}`).join(', ')}`);
    assert.equal(ran, shapes.length, `only ${ran} of ${shapes.length} shapes ran within 20 s`);
    await assertInflightDrains(ten, 5000, `after ${ABORTS} aborted requests`);
    // the apps and the server are fine
    const now = await instances(ten, 'churn');
    for (const i of now) {
      assert.equal(i.state, 'running', i.key);
      assert.equal(i.pid, before.find((b) => b.key === i.key)?.pid, `${i.key} was restarted`);
    }
    for (const host of CHURN_HOSTS) {
      const r = await timedGet(ten.port, host, '/', 3000);
      assert.equal(r.status, 200, `${host}: ${r.error ?? r.body}`);
    }
  });

  test('request_timeout = 2 and an app that never answers: 504 TEN_ERR_ROUTE_UPSTREAM_TIMEOUT in ~2 s', { timeout: 10_000 }, async () => {
    const r = await timedGet(ten.port, 'm1.mute.localhost', '/never', 5000);
    assert.equal(r.status, 504, `${r.status} after ${r.ms} ms: ${r.error ?? r.body}`);
    assert.equal(codeOf(r.body), 'TEN_ERR_ROUTE_UPSTREAM_TIMEOUT', r.body);
    assert.ok(r.ms >= 1800 && r.ms <= 3500, `504 after ${r.ms} ms (request_timeout = 2 s)`);
  });

  test('an app killed mid-response: the client connection is closed at once, the body incomplete', { timeout: 10_000 }, async () => {
    const k1 = await instance(ten, 'victim:k1');
    const c = new Raw(ten.port, 'GET /drip?every=100&ms=30000 HTTP/1.1\r\nHost: k1.victim.localhost\r\n\r\n');
    try {
      assert.ok(await until(() => c.firstBodyAt !== undefined || c.closed, 3000), `no body within 3 s: ${c.describe()}`);
      assert.equal(c.status, 200, c.describe());
      process.kill(k1.pid!, 'SIGKILL');
      const killedAt = Date.now();
      await until(() => c.closed, 3000);
      assert.ok(c.closed, `the client connection is still open 3 s after the app was killed: ${c.describe()}`);
      assert.ok(c.closedAt! - killedAt <= 1000, `closed ${c.closedAt! - killedAt} ms after the kill`);
      assert.equal(c.complete, false, `a killed app's body arrived complete: ${c.describe()}`);
    } finally {
      c.destroy();
    }
  });

  /** Send `req`, let the app get it, SIGKILL the app: a 502 TEN_ERR_ROUTE_UPSTREAM_FAILED, promptly. */
  async function killBeforeHead(t: TestContext, key: string, req: string): Promise<void> {
    const inst = await instance(ten, key);
    const c = new Raw(ten.port, req);
    try {
      await sleep(500);
      assert.equal(c.status, undefined, `answered before the kill: ${c.describe()}`);
      process.kill(inst.pid!, 'SIGKILL');
      const killedAt = Date.now();
      await until(() => c.complete || c.closed, 3000);
      t.diagnostic(`${key}: ${c.describe()}`);
      assert.equal(c.status, 502, `killed before its head: ${c.describe()}`);
      assert.equal(codeOf(c.body()), 'TEN_ERR_ROUTE_UPSTREAM_FAILED', c.describe());
      assert.ok(c.headAt! - killedAt <= 1500, `502 came ${c.headAt! - killedAt} ms after the kill`);
      assert.doesNotMatch(String(c.json().message), /did not respond within|timed? ?out/i, 'reported as a timeout');
    } finally {
      c.destroy();
    }
  }

  test('an app killed mid-upload (before its head): 502 TEN_ERR_ROUTE_UPSTREAM_FAILED, not a timeout', { timeout: 10_000 }, async (t) => {
    await killBeforeHead(t, 'victim:k2',
      `POST /sink HTTP/1.1\r\nHost: k2.victim.localhost\r\nContent-Length: 1000000\r\n\r\n${'u'.repeat(1024)}`);
  });

  test('an app killed with the whole request in hand, before its head: 502 TEN_ERR_ROUTE_UPSTREAM_FAILED', { timeout: 10_000 }, async (t) => {
    await killBeforeHead(t, 'victim:k3', 'POST /never HTTP/1.1\r\nHost: k3.victim.localhost\r\nContent-Length: 5\r\n\r\nhello');
  });

  test('afterwards: the killed instances run again, nothing in flight, ten serve up', { timeout: 25_000 }, async () => {
    await allRunning(ten, ['victim:k1', 'victim:k2', 'victim:k3', 'mute:m1']);
    await assertInflightDrains(ten, 3000, 'after the kills', ['victim', 'mute']);
    assert.equal((await timedGet(ten.port, 'localhost', '/health', 2000)).status, 200);
    assert.ok(ten.child.exitCode === null && ten.child.signalCode === null, 'ten serve exited');
  });
});
