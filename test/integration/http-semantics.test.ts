// HTTP semantics of the proxy data path (issue 7; the spec is the "Rules" list of the new proxy):
// request target byte for byte, hop-by-hop removal both ways, end-to-end headers in order with
// duplicates, Expect: 100-continue end to end, streaming (SSE headers at once), 1xx forwarded,
// X-Forwarded-* / Forwarded / Via, Max-Forwards, malformed requests answered by tenement (400 /
// 408 / 414 / 431) without reaching an app, the retry of a request that failed on a reused
// keep-alive connection, listen = "socket", inflight counters back to 0.
//
// Every request is written as raw bytes on a net.Socket and the answer parsed here, so no client
// library normalises anything. Each rule runs against the fixture app directly first (the control:
// it shows what the app sees or sends without a proxy) and then through `ten serve` with both host
// forms ({service}.localhost and {id}.{service}.localhost).
//
// Three ten serves: A (defaults, plus a service `ka` whose app closes idle keep-alive connections
// after 200 ms), B (trusted_proxies, forwarded = true, client_header_timeout = 1) and C (a service
// with listen = "socket"). B and C use keys the old config loader does not know; if one of them
// fails to start, only its own tests fail (with the startup error).
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../core/net.ts';
import { cleanup, request, rmDir, ROOT, sleep, startTen, waitFor, type Reply, type Ten } from './harness.ts';

const HTTP_APP = join(ROOT, 'test/fixtures/http-app.mjs');
/** The app's keepAliveTimeout in the `ka` service and its control (ms). */
const KA_MS = 200;

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 over a socket
// ---------------------------------------------------------------------------------------------

type Target = { port: number } | { path: string };

interface Head {
  version: string;
  status: number;
  reason: string;
  /** Header lines as received: [name, value], in order, duplicates kept. */
  lines: Array<[string, string]>;
  /** ms after the connection was opened when the head was complete. */
  at: number;
  /** Every value of the header `name` (case-insensitive), one per line, in order. */
  all(name: string): string[];
}

interface RawResponse { interim: Head[]; head: Head; body: Buffer; text: string; json<T = any>(): T }

const preview = (b: Buffer) => JSON.stringify(b.subarray(0, 300).toString('latin1')) + (b.length > 300 ? `… (${b.length} bytes)` : '');

function makeHead(version: string, status: number, reason: string, lines: Array<[string, string]>, at: number): Head {
  const all = (name: string) => lines.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  return { version, status, reason, lines, at, all };
}

/** A decoded chunked body at the start of `b`, or undefined while incomplete. */
function decodeChunked(b: Buffer): { body: Buffer; used: number } | undefined {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', i);
    if (eol < 0) return undefined;
    const size = parseInt(b.subarray(i, eol).toString('latin1').split(';')[0].trim(), 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size line ${preview(b.subarray(i, eol))}`);
    i = eol + 2;
    if (size === 0) { // trailers, then an empty line
      for (;;) {
        const end = b.indexOf('\r\n', i);
        if (end < 0) return undefined;
        const empty = end === i;
        i = end + 2;
        if (empty) return { body: Buffer.concat(parts), used: i };
      }
    }
    if (b.length < i + size + 2) return undefined;
    parts.push(b.subarray(i, i + size));
    i += size + 2;
  }
}

class RawConn {
  private buf = Buffer.alloc(0);
  private waiters = new Set<() => void>();
  private readonly t0 = performance.now();
  /** The server ended or reset the connection (or it failed). */
  ended = false;
  endedAt: number | undefined;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    const end = () => { if (!this.ended) { this.ended = true; this.endedAt = this.now(); } this.wake(); };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end); // ECONNRESET / EPIPE: keep what was received
  }

  static open(target: Target, ms = 3000): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const sock = 'port' in target ? net.connect({ host: '127.0.0.1', port: target.port }) : net.connect({ path: target.path });
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`connect to ${JSON.stringify(target)} timed out`)); }, ms);
      sock.once('connect', () => { clearTimeout(timer); sock.removeAllListeners('error'); resolve(new RawConn(sock)); });
      sock.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }

  now(): number { return performance.now() - this.t0; }

  write(data: string | Buffer): void {
    if (!this.ended && !this.sock.destroyed) this.sock.write(data);
  }

  destroy(): void { this.sock.destroy(); }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Wait until `pick()` gives a value; throws on close (unless `onClose` gives one) or after `ms`. */
  private async until<T>(what: string, ms: number, pick: () => T | undefined, onClose?: () => T | undefined): Promise<T> {
    const deadline = performance.now() + ms;
    for (;;) {
      const v = pick();
      if (v !== undefined) return v;
      if (this.ended) {
        const c = onClose?.();
        if (c !== undefined) return c;
        throw new Error(`${what}: the connection was closed after ${Math.round(this.endedAt!)} ms; unread: ${preview(this.buf)}`);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${what}: nothing after ${ms} ms; unread: ${preview(this.buf)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.add(() => { clearTimeout(t); r(); });
      });
    }
  }

  /** Read one response head (an interim 1xx or a final one). */
  head(ms = 5000): Promise<Head> {
    return this.until('response head', ms, () => {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const text = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      const [statusLine, ...rest] = text.split('\r\n');
      const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
      const lines = rest.map((l): [string, string] => {
        const i = l.indexOf(':');
        if (i <= 0) throw new Error(`bad header line ${JSON.stringify(l)}`);
        return [l.slice(0, i), l.slice(i + 1).trim()];
      });
      return makeHead(m[1], Number(m[2]), m[3] ?? '', lines, this.now());
    });
  }

  /** Read the body that follows `head` (content-length, chunked, or until close). */
  body(head: Head, ms = 5000, method = 'GET'): Promise<Buffer> {
    if (method === 'HEAD' || (head.status >= 100 && head.status < 200) || head.status === 204 || head.status === 304) return Promise.resolve(Buffer.alloc(0));
    const te = head.all('transfer-encoding').join(',').toLowerCase();
    if (/chunked\s*$/.test(te)) {
      return this.until('chunked body', ms, () => {
        const d = decodeChunked(this.buf);
        if (!d) return undefined;
        this.buf = this.buf.subarray(d.used);
        return d.body;
      });
    }
    const cl = head.all('content-length');
    if (cl.length > 0) {
      const n = Number(cl[0]);
      return this.until(`body of ${n} bytes`, ms, () => {
        if (this.buf.length < n) return undefined;
        const b = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return b;
      });
    }
    return this.until('body until close', ms, () => undefined, () => { const b = this.buf; this.buf = Buffer.alloc(0); return b; });
  }

  /** Interim 1xx heads (except 101), then the final head and its body. */
  async response(ms = 5000, method = 'GET'): Promise<RawResponse> {
    const interim: Head[] = [];
    for (;;) {
      const head = await this.head(ms);
      if (head.status >= 100 && head.status < 200 && head.status !== 101) { interim.push(head); continue; }
      const body = await this.body(head, ms, method);
      const text = body.toString('utf8');
      return { interim, head, body, text, json: () => JSON.parse(text) };
    }
  }

  /** Wait until the unread bytes contain `s`; resolves with the time (ms since open). */
  waitText(s: string, ms: number): Promise<number> {
    return this.until(`${JSON.stringify(s)} in the body`, ms, () => (this.buf.includes(s) ? this.now() : undefined));
  }

  /** true once the server closed the connection (within `ms`), false if it stays open. */
  async closed(ms: number): Promise<boolean> {
    try {
      await this.until('close', ms, () => undefined, () => true);
      return true;
    } catch {
      return this.ended;
    }
  }
}

/** Request bytes: request line, Host first (unless null), the headers as given, the body. */
function raw(method: string, target: string, host: string | null, headers: Array<[string, string]> = [], body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, ...(host === null ? [] : [`Host: ${host}`]), ...headers.map(([n, v]) => `${n}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Open, write `bytes`, read one response (with interim 1xx), close. */
async function exchange(target: Target, bytes: string, ms = 5000, method = 'GET'): Promise<RawResponse> {
  const conn = await RawConn.open(target);
  try {
    conn.write(bytes);
    return await conn.response(ms, method);
  } finally {
    conn.destroy();
  }
}

interface Echo { instance: string; method: string; url: string; httpVersion: string; rawHeaders: string[]; bodyLength: number; listen: string }

/** The header lines the app received: [name, value] in order. */
const pairs = (rawHeaders: string[]): Array<[string, string]> => {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < rawHeaders.length; i += 2) out.push([rawHeaders[i], rawHeaders[i + 1]]);
  return out;
};
const valuesOf = (rawHeaders: string[], name: string): string[] =>
  pairs(rawHeaders).filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

/** A GET through the echo: what the app saw. */
async function echo(target: Target, bytes: string): Promise<{ r: RawResponse; e: Echo }> {
  const r = await exchange(target, bytes);
  assert.equal(r.head.status, 200, `echo: ${r.head.status} ${r.text}`);
  return { r, e: r.json<Echo>() };
}

/** A tenement error answer: status, JSON {code, message, hint}, and (if asked) connection: close + the socket closed. */
async function assertTenError(conn: RawConn, r: RawResponse, status: number, code: string, opts: { close?: boolean } = {}): Promise<void> {
  assert.equal(r.head.status, status, `expected ${status} ${code}, got ${r.head.status} ${r.text}`);
  assert.match(r.head.all('content-type').join(), /application\/json/, 'content-type');
  const b = r.json<Record<string, unknown>>();
  assert.equal(b.code, code, r.text);
  assert.equal(typeof b.message, 'string', r.text);
  assert.equal(typeof b.hint, 'string', r.text);
  if (opts.close) {
    assert.match(r.head.all('connection').join().toLowerCase(), /\bclose\b/, `connection: close on ${status}`);
    assert.ok(await conn.closed(2000), `the connection stays open after ${status}`);
  }
}

/** Write `bytes` on a fresh connection and read one response, keeping the connection to check it closes. */
async function exchangeKeep(target: Target, bytes: string, ms = 5000): Promise<{ conn: RawConn; r: RawResponse }> {
  const conn = await RawConn.open(target);
  conn.write(bytes);
  try {
    return { conn, r: await conn.response(ms) };
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The control apps (started here) and the ten serves
// ---------------------------------------------------------------------------------------------

interface App { target: Target; child: ChildProcess; output(): string }
const apps: App[] = [];

async function startApp(env: Record<string, string>): Promise<App> {
  let out = '';
  const child = spawn(process.execPath, [HTTP_APP], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const target: Target = env.LISTEN === 'socket' ? { path: env.SOCKET_PATH } : { port: Number(env.PORT) };
  const app: App = { target, child, output: () => out };
  apps.push(app);
  await waitFor(`control app ${env.INSTANCE}`, async () => {
    if (child.exitCode !== null) throw new Error(`control app exited with ${child.exitCode}: ${out}`);
    return exchange(target, raw('GET', '/health', 'localhost', [['Connection', 'close']]), 1000).then((r) => r.head.status === 200, () => false);
  }, 10_000);
  return app;
}

async function stopApps(): Promise<void> {
  await Promise.all(apps.splice(0).map(async ({ child }) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(2000, { unref: true })]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }));
}

/** [service.NAME] running http-app.mjs. */
function httpAppService(name: string, env: Record<string, string> = {}, extra = ''): string {
  const envLines = Object.entries({ INSTANCE: '{name}:{id}', ...env }).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join('\n');
  return `[service.${name}]\nargs = ["${process.execPath}", "${HTTP_APP}"]\nhealth = "/health"\n${extra}\n[service.${name}.env]\n${envLines}\n`;
}

const CONFIG_A = [
  '[settings]',
  'health_interval = 1',
  httpAppService('api'),
  httpAppService('ka', { KEEPALIVE_MS: String(KA_MS) }),
  '[instances]',
  'api = ["v1"]',
  'ka = ["k1"]',
].join('\n');

const CONFIG_B = [
  '[settings]',
  'health_interval = 1',
  'trusted_proxies = ["127.0.0.0/8"]',
  'forwarded = true',
  'client_header_timeout = 1',
  httpAppService('api'),
  '[instances]',
  'api = ["v1"]',
].join('\n');

const CONFIG_C = [
  '[settings]',
  'health_interval = 1',
  httpAppService('sock', { LISTEN: 'socket' }, 'listen = "socket"'),
  '[instances]',
  'sock = ["s1"]',
].join('\n');

async function startServer(toml: string, keys: string[]): Promise<Ten> {
  const ten = await startTen(toml);
  await Promise.all(keys.map((key) => {
    const [service, id] = key.split(':');
    return waitFor(`${key} running`, async () => {
      const r = await ten.api('GET', `/api/instances/${service}/${id}`);
      return r.status === 200 && r.json().state === 'running';
    }, 6000);
  }));
  return ten;
}

/** A started thing, or the error it failed with (each test that needs it rethrows). */
type Started<T> = { ok: true; value: T } | { ok: false; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Started<T>> => p.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error }));
function need<T>(s: Started<T> | undefined, what: string): T {
  if (!s) throw new Error(`${what} was not started`);
  if (!s.ok) throw new Error(`${what} did not start: ${s.error instanceof Error ? s.error.message : String(s.error)}`);
  return s.value;
}

let ctl: App; // control app, default keep-alive
let ctlKa: App; // control app, KEEPALIVE_MS = 200
let ctlSock: App; // control app on a Unix socket
let sockDir: string;
let A: Started<Ten> | undefined;
let B: Started<Ten> | undefined;
let C: Started<Ten> | undefined;

before(async () => {
  sockDir = mkdtempSync(join(tmpdir(), 'ten-http-sem-'));
  const taken = new Set<number>();
  const p1 = await freePort(taken);
  taken.add(p1);
  const p2 = await freePort(taken);
  const [a, b, c, c1, c2, c3] = await Promise.all([
    settle(startServer(CONFIG_A, ['api:v1', 'ka:k1'])),
    settle(startServer(CONFIG_B, ['api:v1'])),
    settle(startServer(CONFIG_C, ['sock:s1'])),
    startApp({ PORT: String(p1), INSTANCE: 'control' }),
    startApp({ PORT: String(p2), INSTANCE: 'control-ka', KEEPALIVE_MS: String(KA_MS) }),
    startApp({ LISTEN: 'socket', SOCKET_PATH: join(sockDir, 'control.sock'), PORT: '0', INSTANCE: 'control-sock' }),
  ]);
  [A, B, C, ctl, ctlKa, ctlSock] = [a, b, c, c1, c2, c3];
});

after(async () => {
  await Promise.all([cleanup(), stopApps()]);
  if (sockDir) rmDir(sockDir);
});

// ---------------------------------------------------------------------------------------------
// One case, three ways: the app directly, then through ten serve with both host forms
// ---------------------------------------------------------------------------------------------

type Kind = 'app' | 'balanced' | 'direct';
const KINDS: Array<{ kind: Kind; label: string }> = [
  { kind: 'app', label: 'control: the app directly' },
  { kind: 'balanced', label: 'through ten serve, Host: {service}.localhost' },
  { kind: 'direct', label: 'through ten serve, Host: {id}.{service}.localhost' },
];
const IDS: Record<string, string> = { api: 'v1', ka: 'k1', sock: 's1' };

interface Via {
  kind: Kind;
  proxied: boolean;
  /** Where the client connects. */
  target: Target;
  /** The Host the client sends (also sent to the control app, which ignores it). */
  host: string;
  /** The port the client connected to (what X-Forwarded-Port must say through the proxy). */
  port: number;
  /** A bookkeeping GET (http client) to the same app, e.g. /_/seen. */
  get(path: string): Promise<Reply>;
}

function via(kind: Kind, service = 'api', server: 'A' | 'B' | 'C' = 'A'): Via {
  const balanced = `${service}.localhost`;
  const direct = `${IDS[service]}.${service}.localhost`;
  if (kind === 'app') {
    const app = service === 'ka' ? ctlKa : service === 'sock' ? ctlSock : ctl;
    const port = 'port' in app.target ? app.target.port : 0;
    return {
      kind, proxied: false, target: app.target, host: balanced, port,
      get: async (path) => {
        if ('port' in app.target) return request(port, 'localhost', path);
        const r = await exchange(app.target, raw('GET', path, 'localhost', [['Connection', 'close']]));
        return { status: r.head.status, headers: {}, body: r.text, json: () => JSON.parse(r.text) };
      },
    };
  }
  const ten = need(server === 'A' ? A : server === 'B' ? B : C, `ten serve ${server}`);
  return {
    kind, proxied: true, target: { port: ten.port }, host: kind === 'balanced' ? balanced : direct, port: ten.port,
    get: (path) => ten.get(direct, path),
  };
}

/** One test per way: `${title} — ${label}`. */
function each(title: string, fn: (v: Via) => Promise<void>, opts: { service?: string; server?: 'A' | 'B' | 'C'; kinds?: Kind[] } = {}): void {
  for (const { kind, label } of KINDS) {
    if (opts.kinds && !opts.kinds.includes(kind)) continue;
    const service = opts.service ?? 'api';
    const l = label.replace('{service}', service).replace('{id}', IDS[service]);
    test(`${title} — ${l}`, () => fn(via(kind, service, opts.server)));
  }
}

async function seen(v: Via, prefix: string): Promise<number> {
  const r = await v.get(`/_/seen?prefix=${encodeURIComponent(prefix)}`);
  assert.equal(r.status, 200, r.body);
  return r.json<{ count: number }>().count;
}

let uid = 0;
const nextId = () => `${process.pid}-${++uid}`;

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

describe('request target passes byte for byte; Host unchanged', () => {
  const TARGETS = [
    '/a%2Fb/%2e%2e/c',
    '/a/../b',
    '/./x/./y',
    '//x?y=%20',
    '//x?y=%20#',
    '/search?q=a%20b&x=1&x=2&e=&plus=a+b&slash=%2F',
    '/p;m=1/%7Euser?',
  ];
  each('GET target as sent', async (v) => {
    for (const target of TARGETS) {
      const { e } = await echo(v.target, raw('GET', target, v.host));
      assert.equal(e.url, target, `req.url for ${target}`);
      assert.equal(e.method, 'GET');
      assert.deepEqual(valuesOf(e.rawHeaders, 'host'), [v.host], `Host for ${target}`);
    }
  });
});

describe('hop-by-hop headers are removed both ways', () => {
  const HOP_REQUEST: Array<[string, string]> = [
    ['Connection', 'keep-alive, x-foo'],
    ['X-Foo', 'must-not-pass'],
    ['Keep-Alive', 'timeout=99'],
    ['Proxy-Connection', 'keep-alive'],
    ['TE', 'trailers, deflate'],
    ['Proxy-Authorization', 'Basic c2VjcmV0'],
    ['Upgrade', 'h2c'],
    ['X-End', 'passes'],
  ];
  each('request: Connection + the header it names, Keep-Alive, Proxy-Connection, Proxy-Authorization, Upgrade dropped; TE → te: trailers', async (v) => {
    const { e } = await echo(v.target, raw('GET', '/hop-request', v.host, HOP_REQUEST));
    const got = (n: string) => valuesOf(e.rawHeaders, n);
    assert.deepEqual(got('x-end'), ['passes'], 'an end-to-end header passes');
    if (!v.proxied) { // the app sees everything the client sent: the proxy is what has to drop them
      for (const [n, val] of HOP_REQUEST) assert.deepEqual(got(n.toLowerCase()), [val], n);
      return;
    }
    assert.deepEqual(got('x-foo'), [], 'X-Foo (named in Connection)');
    assert.deepEqual(got('keep-alive'), [], 'Keep-Alive');
    assert.deepEqual(got('proxy-connection'), [], 'Proxy-Connection');
    assert.deepEqual(got('proxy-authorization'), [], 'Proxy-Authorization');
    assert.deepEqual(got('upgrade'), [], 'Upgrade on a non-upgrade request');
    assert.deepEqual(got('te'), ['trailers'], 'TE: only "trailers" passes');
    for (const c of got('connection')) assert.doesNotMatch(c, /x-foo/i, `the client's Connection reached the app: ${c}`);
  });

  each('request: TE without trailers is dropped entirely', async (v) => {
    const { e } = await echo(v.target, raw('GET', '/hop-te', v.host, [['TE', 'deflate, gzip;q=0.5']]));
    assert.deepEqual(valuesOf(e.rawHeaders, 'te'), v.proxied ? [] : ['deflate, gzip;q=0.5']);
  });

  each('request: a chunked body is re-framed and arrives whole', async (v) => {
    const body = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
    const { e } = await echo(v.target, raw('POST', '/chunked', v.host, [['Transfer-Encoding', 'chunked'], ['Content-Type', 'text/plain']], body));
    assert.equal(e.method, 'POST');
    assert.equal(e.bodyLength, 11);
  });

  each('response: Connection: x-secret + X-Secret, Keep-Alive, Proxy-Authenticate do not reach the client', async (v) => {
    const r = await exchange(v.target, raw('GET', '/_/hop', v.host));
    assert.equal(r.head.status, 200, r.text);
    assert.equal(r.text, 'hop\n');
    if (!v.proxied) { // the app does send them
      assert.deepEqual(r.head.all('x-secret'), ['1']);
      assert.deepEqual(r.head.all('connection'), ['x-secret']);
      assert.deepEqual(r.head.all('proxy-authenticate'), ['x']);
      assert.ok(r.head.all('keep-alive').includes('timeout=77, max=9'), JSON.stringify(r.head.lines));
      return;
    }
    assert.deepEqual(r.head.all('x-secret'), [], 'X-Secret (named in the app\'s Connection)');
    assert.deepEqual(r.head.all('proxy-authenticate'), [], 'Proxy-Authenticate');
    for (const c of r.head.all('connection')) assert.doesNotMatch(c, /x-secret/i, 'the app\'s Connection reached the client');
    // tenement may send its own Keep-Alive for its own client connection, never the app's
    for (const k of r.head.all('keep-alive')) assert.doesNotMatch(k, /77|max=9/, `the app's Keep-Alive reached the client: ${k}`);
  });
});

describe('end-to-end headers untouched, in order, duplicates kept', () => {
  const E2E: Array<[string, string]> = [
    ['X-First', 'one'],
    ['X-Dup', 'a'],
    ['X-Dup', 'b'],
    ['X-Spaces', 'Hello, World; q=1  "quoted"'],
    ['Cookie', 'c1=1'],
    ['Cookie', 'c2=2'],
    ['X-Last', 'z'],
  ];
  const mine = (lines: Array<[string, string]>) => {
    const names = new Set(E2E.map(([n]) => n.toLowerCase()));
    return lines.filter(([n]) => names.has(n.toLowerCase())).map(([n, val]): [string, string] => [n.toLowerCase(), val]);
  };

  each('request: two X-Dup lines arrive as two lines in that order, with the others in order', async (v) => {
    const { e } = await echo(v.target, raw('GET', '/e2e', v.host, E2E));
    assert.deepEqual(mine(pairs(e.rawHeaders)), E2E.map(([n, val]) => [n.toLowerCase(), val]));
  });

  each('response: two X-Dup lines and two Set-Cookie lines, in order', async (v) => {
    const r = await exchange(v.target, raw('GET', '/_/hop', v.host));
    assert.equal(r.head.status, 200, r.text);
    const names = new Set(['x-first', 'x-dup', 'set-cookie', 'x-last']);
    const got = r.head.lines.filter(([n]) => names.has(n.toLowerCase())).map(([n, val]) => [n.toLowerCase(), val]);
    assert.deepEqual(got, [
      ['x-first', 'one'], ['x-dup', 'a'], ['x-dup', 'b'],
      ['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2; Path=/; HttpOnly'], ['x-last', 'z'],
    ]);
  });
});

describe('Expect: 100-continue is end to end', () => {
  const MB = 1024 * 1024;

  each('the app refuses (413) before the client sends the 1 MB body; no 100 from anyone', async (v) => {
    const id = nextId();
    const conn = await RawConn.open(v.target);
    try {
      // headers only: the body is never sent
      conn.write(raw('POST', `/_/upload?id=${id}&limit=1000`, v.host, [['Content-Type', 'application/octet-stream'], ['Content-Length', String(MB)], ['Expect', '100-continue']]));
      const r = await conn.response(3000);
      assert.deepEqual(r.interim.map((h) => h.status), [], 'no interim response (tenement must not answer 100 itself)');
      assert.equal(r.head.status, 413, r.text);
      assert.equal(r.json().error, 'too large');
    } finally {
      conn.destroy();
    }
    const st = (await v.get(`/_/upload-status?id=${id}`)).json();
    assert.ok(st, 'the request reached the app');
    assert.deepEqual(st.expect, ['100-continue'], 'the Expect lines the app received');
    assert.equal(st.contentLength, MB);
    assert.equal(st.continued, false);
    assert.equal(st.status, 413);
    assert.equal(st.received, 0, 'the app received body bytes');
  });

  each('the app accepts: its 100 Continue reaches the client, then the body flows, then 200', async (v) => {
    const id = nextId();
    const body = 'x'.repeat(100);
    const conn = await RawConn.open(v.target);
    try {
      // the app waits 300 ms before its 100: a 100 sooner than that did not come from the app
      const sentAt = conn.now();
      conn.write(raw('POST', `/_/upload?id=${id}&limit=1000&delay=300`, v.host, [['Content-Length', String(body.length)], ['Expect', '100-continue']]));
      const cont = await conn.head(3000);
      assert.equal(cont.status, 100, `first answer ${cont.status} ${cont.reason}`);
      assert.equal(cont.version, '1.1');
      const waited = cont.at - sentAt;
      assert.ok(waited >= 250, `100 Continue after ${Math.round(waited)} ms: it did not come from the app (which waits 300 ms)`);
      conn.write(body);
      const r = await conn.response(3000);
      assert.deepEqual(r.interim.map((h) => h.status), [], 'a second 1xx');
      assert.equal(r.head.status, 200, r.text);
      assert.equal(r.json().received, 100);
    } finally {
      conn.destroy();
    }
    const st = (await v.get(`/_/upload-status?id=${id}`)).json();
    assert.deepEqual(st.expect, ['100-continue'], 'the Expect lines the app received');
    assert.equal(st.continued, true);
    assert.equal(st.received, 100);
  });
});

describe('responses stream: SSE headers arrive when the app flushes them', () => {
  each('headers within 500 ms, the first event after ~2 s', async (v) => {
    const conn = await RawConn.open(v.target);
    try {
      const sentAt = conn.now();
      conn.write(raw('GET', '/_/sse?first=2000', v.host, [['Accept', 'text/event-stream']]));
      const head = await conn.head(4000);
      const headAfter = head.at - sentAt;
      assert.equal(head.status, 200);
      assert.match(head.all('content-type').join(), /text\/event-stream/);
      const eventAfter = (await conn.waitText('data: first', 4000)) - sentAt;
      assert.ok(headAfter < 500, `response headers after ${Math.round(headAfter)} ms (expected < 500; the first event came after ${Math.round(eventAfter)} ms)`);
      assert.ok(eventAfter >= 1800, `first event after ${Math.round(eventAfter)} ms, the app sends it after 2000`);
    } finally {
      conn.destroy();
    }
  });
});

describe('1xx informational responses are forwarded', () => {
  each('103 Early Hints then 200', async (v) => {
    const r = await exchange(v.target, raw('GET', '/_/hints', v.host));
    assert.deepEqual(r.interim.map((h) => h.status), [103], 'interim responses');
    assert.deepEqual(r.interim[0].all('link'), ['</style.css>; rel=preload; as=style']);
    assert.equal(r.head.status, 200, r.text);
    assert.equal(r.json().hinted, true);
  });
});

/** node:http options reaching the same place as `v.target` (a port, or the control's socket). */
const connectTo = (v: Via) => ('port' in v.target ? { host: '127.0.0.1', port: v.target.port } : { socketPath: v.target.path });

describe('trailers and bodiless responses keep their framing', () => {
  /** GET with Node's client, which reads trailer fields; `te: trailers` says the client takes them. */
  const getWithTrailers = (v: Via, path: string) => new Promise<{ status: number; body: string; trailers: http.IncomingHttpHeaders }>((resolve, reject) => {
    http.get({ ...connectTo(v), path, agent: false, headers: { host: v.host, te: 'trailers' } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, trailers: res.trailers }));
    }).on('error', reject);
  });

  each('a trailer field the app sends reaches the client (the response stays chunked)', async (v) => {
    const r = await getWithTrailers(v, '/_/trailers');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'abc');
    assert.deepEqual(r.trailers, { 'x-checksum': 'sum-of-abc' });
  });

  each('HEAD: the Content-Length of the GET, no body; the connection stays usable', async (v) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const one = (method: string) => new Promise<{ status: number; length?: string; body: string }>((resolve, reject) => {
      const req = http.request({ ...connectTo(v), path: '/_/hop', method, agent, headers: { host: v.host } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode!, length: res.headers['content-length'], body }));
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', reject).end();
    });
    try {
      assert.deepEqual(await one('HEAD'), { status: 200, length: '4', body: '' });
      assert.deepEqual(await one('GET'), { status: 200, length: '4', body: 'hop\n' });
      assert.deepEqual(await one('HEAD'), { status: 200, length: '4', body: '' });
    } finally {
      agent.destroy();
    }
  });
});

describe('answers Node cannot write as the app sent them: passed on as far as the client can take them', () => {
  each('trailers to an HTTP/1.0 client: the body without them, and the server stays up', async (v) => {
    const r = await exchange(v.target, 'GET /_/trailers HTTP/1.0\r\nHost: ' + v.host + '\r\n\r\n');
    assert.equal(r.head.status, 200, r.text);
    assert.equal(r.text, 'abc');
    assert.equal((await v.get('/health')).status, 200);
  }, { kinds: ['balanced', 'direct'] }); // no control: Node's own server throws on this one (ERR_HTTP_TRAILER_INVALID)

  each('a reason phrase with obs-text: the status passes, the server stays up', async (v) => {
    const r = await exchange(v.target, raw('GET', '/_/obs-reason', v.host));
    assert.equal(r.head.status, 200, r.text);
    assert.equal(r.text, 'ok');
    assert.equal((await v.get('/health')).status, 200);
  });
});

describe('framing edge cases', () => {
  each('a 304 with Content-Length: no body, and the connection serves the next request', async (v) => {
    const { conn, r } = await exchangeKeep(v.target, raw('GET', '/_/304', v.host) + raw('GET', '/after-304', v.host));
    try {
      assert.equal(r.head.status, 304);
      const next = await conn.response(5000);
      assert.equal(next.head.status, 200, next.text);
      assert.equal(next.json<Echo>().url, '/after-304');
    } finally {
      conn.destroy();
    }
  });

  each('Transfer-Encoding: gzip, chunked → 501 TEN_ERR_HTTP_NOT_IMPLEMENTED, never reaching the app (RFC 9112 §6.1)', async (v) => {
    const before = await seen(v, '/te-gzip');
    const { conn, r } = await exchangeKeep(v.target, raw('POST', '/te-gzip', v.host, [['Transfer-Encoding', 'gzip, chunked']], '3\r\nabc\r\n0\r\n\r\n'));
    try {
      await assertTenError(conn, r, 501, 'TEN_ERR_HTTP_NOT_IMPLEMENTED');
    } finally {
      conn.destroy();
    }
    assert.equal(await seen(v, '/te-gzip'), before);
  }, { kinds: ['balanced', 'direct'] });

  each('2,100 header lines (within max_header_size) all reach the app', async (v) => {
    const many: Array<[string, string]> = Array.from({ length: 2100 }, (_, i) => [`x-${i}`, '1']);
    const { e } = await echo(v.target, raw('GET', '/many', v.host, many));
    assert.equal(valuesOf(e.rawHeaders, 'x-2099').length, 1);
  }, { kinds: ['balanced', 'direct'] });
});

describe('requests whose form tenement rewrites for the app', () => {
  each('an HTTP/1.0 request\'s Expect: 100-continue is ignored (RFC 9110 §10.1.1)', async (v) => {
    const r = await exchange(v.target, `POST /e10 HTTP/1.0\r\nHost: ${v.host}\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc`);
    assert.equal(r.head.status, 200, r.text);
    assert.equal(r.json<Echo>().bodyLength, 3);
  }, { kinds: ['balanced', 'direct'] });

  each('absolute-form: routed by the target\'s authority, which the app gets as Host (RFC 9112 §3.2.2)', async (v) => {
    const { e } = await echo(v.target, raw('GET', `http://${v.host}/abs?q=1`, 'localhost'));
    assert.equal(e.url, '/abs?q=1');
    assert.deepEqual(valuesOf(e.rawHeaders, 'host'), [v.host]);
  }, { kinds: ['balanced', 'direct'] });

  each('X_Forwarded_For (underscores) is dropped like X-Forwarded-For', async (v) => {
    const { e } = await echo(v.target, raw('GET', '/us', v.host, [['X_Forwarded_For', '6.6.6.6'], ['X_Forwarded_Proto', 'https']]));
    assert.deepEqual(valuesOf(e.rawHeaders, 'x_forwarded_for'), []);
    assert.deepEqual(valuesOf(e.rawHeaders, 'x_forwarded_proto'), []);
  }, { kinds: ['balanced', 'direct'] });
});

describe('X-Forwarded-* are set from the real connection', () => {
  const SPOOF: Array<[string, string]> = [
    ['X-Forwarded-For', '6.6.6.6'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Forwarded-Port', '1'],
    ['X-Forwarded-Host', 'evil.example'],
  ];

  each('client-sent values dropped (peer not trusted): exactly 127.0.0.1, http, Host, tenement\'s port; no Forwarded', async (v) => {
    const { e } = await echo(v.target, raw('GET', '/xff', v.host, SPOOF));
    const got = (n: string) => valuesOf(e.rawHeaders, n);
    if (!v.proxied) { // the app sees the client's values: the proxy is what must replace them
      for (const [n, val] of SPOOF) assert.deepEqual(got(n.toLowerCase()), [val]);
      return;
    }
    assert.deepEqual(got('x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(got('x-forwarded-proto'), ['http']);
    assert.deepEqual(got('x-forwarded-host'), [v.host]);
    assert.deepEqual(got('x-forwarded-port'), [String(v.port)]);
    assert.deepEqual(got('forwarded'), [], 'Forwarded with forwarded = false');
  });

  each('without client values: set from the connection', async (v) => {
    const { e } = await echo(v.target, raw('GET', '/xff-plain', v.host));
    const got = (n: string) => valuesOf(e.rawHeaders, n);
    assert.deepEqual(got('x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(got('x-forwarded-proto'), ['http']);
    assert.deepEqual(got('x-forwarded-host'), [v.host]);
    assert.deepEqual(got('x-forwarded-port'), [String(v.port)]);
  }, { kinds: ['balanced', 'direct'] });

  each('trusted_proxies = ["127.0.0.0/8"]: extended (6.6.6.6, 127.0.0.1), proto/host/port from the client kept', async (v) => {
    const { e } = await echo(v.target, raw('GET', '/xff-trusted', v.host, SPOOF));
    const got = (n: string) => valuesOf(e.rawHeaders, n);
    assert.deepEqual(got('x-forwarded-for'), ['6.6.6.6, 127.0.0.1']);
    assert.deepEqual(got('x-forwarded-proto'), ['https']);
    assert.deepEqual(got('x-forwarded-port'), ['1']);
    assert.deepEqual(got('x-forwarded-host'), ['evil.example']);
  }, { server: 'B', kinds: ['balanced', 'direct'] });

  each('forwarded = true adds Forwarded: for=127.0.0.1;host=...;proto=http', async (v) => {
    const { e } = await echo(v.target, raw('GET', '/fwd', v.host));
    assert.deepEqual(valuesOf(e.rawHeaders, 'forwarded'), [`for=127.0.0.1;host=${v.host};proto=http`]);
    assert.deepEqual(valuesOf(e.rawHeaders, 'x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For still set');
  }, { server: 'B', kinds: ['balanced', 'direct'] });
});

describe('Via: 1.1 tenement on requests and responses', () => {
  each('added both ways; a client Via is kept before it', async (v) => {
    const { r, e } = await echo(v.target, raw('GET', '/via', v.host));
    const reqVia = valuesOf(e.rawHeaders, 'via');
    const resVia = r.head.all('via');
    if (!v.proxied) {
      assert.deepEqual([reqVia, resVia], [[], []], 'no Via without a proxy');
      return;
    }
    assert.deepEqual(reqVia, ['1.1 tenement'], 'Via on the request');
    assert.deepEqual(resVia, ['1.1 tenement'], 'Via on the response');
    const { e: e2 } = await echo(v.target, raw('GET', '/via2', v.host, [['Via', '1.0 fred']]));
    assert.equal(valuesOf(e2.rawHeaders, 'via').join(', '), '1.0 fred, 1.1 tenement', 'Via appended to the client\'s');
  });
});

describe('Max-Forwards is decremented on TRACE and OPTIONS; TRACE passes', () => {
  each('TRACE 3 → 2, OPTIONS 5 → 4, GET 5 untouched', async (v) => {
    const cases: Array<[string, string, string]> = [['TRACE', '3', '2'], ['OPTIONS', '5', '4'], ['GET', '5', '5']];
    for (const [method, sent, expected] of cases) {
      const { e } = await echo(v.target, raw(method, `/mf-${method.toLowerCase()}`, v.host, [['Max-Forwards', sent]]));
      assert.equal(e.method, method);
      assert.deepEqual(valuesOf(e.rawHeaders, 'max-forwards'), [v.proxied ? expected : sent], `${method} Max-Forwards: ${sent}`);
    }
  });
});

describe('malformed requests: tenement answers, the app never sees them', () => {
  /** Through the proxy, the request (path under /never-) is answered by tenement and never counted by the app. */
  async function refused(v: Via, bytes: string, status: number, code: string, prefix: string, close: boolean): Promise<void> {
    const before = await seen(v, prefix);
    const { conn, r } = await exchangeKeep(v.target, bytes);
    try {
      await assertTenError(conn, r, status, code, { close });
    } finally {
      conn.destroy();
    }
    await sleep(100);
    assert.equal(await seen(v, prefix), before, 'the request reached the app');
  }

  each('two Host headers → 400 TEN_ERR_HTTP_BAD_REQUEST', async (v) => {
    for (const [h1, h2] of [[v.host, v.host], ['api.localhost', 'v1.api.localhost']]) {
      const bytes = `GET /never-dup-host HTTP/1.1\r\nHost: ${h1}\r\nHost: ${h2}\r\n\r\n`;
      if (!v.proxied) { // Node's parser lets it through to the app: tenement must be the one refusing
        const r = await exchange(v.target, bytes);
        assert.equal(r.head.status, 200, r.text);
        assert.deepEqual(valuesOf(r.json<Echo>().rawHeaders, 'host'), [h1, h2]);
        continue;
      }
      await refused(v, bytes, 400, 'TEN_ERR_HTTP_BAD_REQUEST', '/never-dup-host', true);
    }
  });

  each('Host with an invalid port → 400 TEN_ERR_HTTP_BAD_REQUEST', async (v) => {
    for (const host of [`${v.host}:abc`, `${v.host}:-1`]) {
      const bytes = raw('GET', '/never-bad-host', host);
      if (!v.proxied) {
        const r = await exchange(v.target, bytes);
        assert.equal(r.head.status, 200, `the app itself accepts Host: ${host}: ${r.text}`);
        continue;
      }
      await refused(v, bytes, 400, 'TEN_ERR_HTTP_BAD_REQUEST', '/never-bad-host', true);
    }
  });

  each('no Host on HTTP/1.1 → 400 TEN_ERR_HTTP_BAD_REQUEST', async (v) => {
    const bytes = raw('GET', '/never-no-host', null);
    if (!v.proxied) {
      const r = await exchange(v.target, bytes);
      assert.equal(r.head.status, 400, 'Node refuses it too');
      return;
    }
    const { conn, r } = await exchangeKeep(v.target, bytes);
    try { await assertTenError(conn, r, 400, 'TEN_ERR_HTTP_BAD_REQUEST', { close: true }); } finally { conn.destroy(); }
  }, { kinds: ['app', 'balanced'] });

  each('smuggling shapes (CL+TE, two different Content-Length) → 400 with connection: close', async (v) => {
    const smuggled = 'GET /never-smuggled HTTP/1.1\r\nHost: api.localhost\r\n\r\n';
    const shapes = [
      raw('POST', '/never-smuggle-clte', v.host, [['Content-Length', '5'], ['Transfer-Encoding', 'chunked']], `0\r\n\r\n${smuggled}`),
      raw('POST', '/never-smuggle-clcl', v.host, [['Content-Length', '5'], ['Content-Length', '6']], `hello!${smuggled}`),
    ];
    for (const bytes of shapes) {
      if (!v.proxied) { // Node's parser refuses these too, with a bare 400
        const r = await exchange(v.target, bytes);
        assert.equal(r.head.status, 400);
        continue;
      }
      await refused(v, bytes, 400, 'TEN_ERR_HTTP_BAD_REQUEST', '/never-smuggle', true);
    }
    assert.equal(await seen(v, '/never-smuggle'), 0);
  });

  each('a 17 KB header → 431 TEN_ERR_HTTP_HEADERS_TOO_LARGE with connection: close', async (v) => {
    const bytes = raw('GET', '/never-big-header', v.host, [['X-Big', 'a'.repeat(17 * 1024)]]);
    if (!v.proxied) { // Node's default max header size is 16 KB too
      const r = await exchange(v.target, bytes);
      assert.equal(r.head.status, 431);
      return;
    }
    await refused(v, bytes, 431, 'TEN_ERR_HTTP_HEADERS_TOO_LARGE', '/never-big-header', true);
  });

  each('a 9000-byte target → 414 TEN_ERR_HTTP_URI_TOO_LONG', async (v) => {
    const prefix = '/never-long-uri?pad=';
    const target = prefix + 'a'.repeat(9000 - prefix.length);
    assert.equal(target.length, 9000);
    const bytes = raw('GET', target, v.host);
    if (!v.proxied) { // the app takes it
      const { e } = await echo(v.target, bytes);
      assert.equal(e.url, target);
      return;
    }
    await refused(v, bytes, 414, 'TEN_ERR_HTTP_URI_TOO_LONG', '/never-long-uri', false);
  });
});

describe('slowloris: request head not complete within client_header_timeout (1 s) → 408', () => {
  const HALF = 'GET /never-slow HTTP/1.1\r\nHost: api.localhost\r\nX-A: 1\r\n';

  each('half a head, then silence', async (v) => {
    const conn = await RawConn.open(v.target);
    try {
      const sentAt = conn.now();
      conn.write(HALF);
      if (!v.proxied) { // Node's own default (60 s) answers nothing within 1.5 s: the 408 must come from tenement
        await assert.rejects(conn.head(1500), /nothing after 1500 ms/);
        return;
      }
      const r = await conn.response(3000);
      const after = r.head.at - sentAt;
      await assertTenError(conn, r, 408, 'TEN_ERR_HTTP_REQUEST_TIMEOUT', { close: true });
      assert.ok(after >= 800 && after <= 3000, `408 after ${Math.round(after)} ms, client_header_timeout = 1 s`);
    } finally {
      conn.destroy();
    }
  }, { server: 'B', kinds: ['app', 'balanced'] });

  each('a header line every 200 ms (never idle, never complete)', async (v) => {
    const conn = await RawConn.open(v.target);
    const sentAt = conn.now();
    conn.write(HALF);
    let n = 0;
    const trickle = setInterval(() => conn.write(`X-Trickle-${++n}: ${'b'.repeat(10)}\r\n`), 200);
    try {
      const r = await conn.response(3000);
      clearInterval(trickle);
      const after = r.head.at - sentAt;
      await assertTenError(conn, r, 408, 'TEN_ERR_HTTP_REQUEST_TIMEOUT', { close: true });
      assert.ok(after >= 800 && after <= 3000, `408 after ${Math.round(after)} ms, client_header_timeout = 1 s`);
    } finally {
      clearInterval(trickle);
      conn.destroy();
    }
    assert.equal(await seen(via('direct', 'api', 'B'), '/never-slow'), 0, 'the slow request reached the app');
  }, { server: 'B', kinds: ['balanced'] });
});

describe('a request that fails on a reused keep-alive connection the app closed is retried', () => {
  each('control: the app closes an idle keep-alive connection after ~200 ms; /_/trap drops a second request on a connection', async (v) => {
    const conn = await RawConn.open(v.target);
    try {
      conn.write(raw('GET', '/ka-1', v.host));
      assert.equal((await conn.response()).head.status, 200);
      const t = conn.now();
      assert.ok(await conn.closed(1500), 'the app kept the idle connection open');
      assert.ok(conn.endedAt! - t < 1000, `closed after ${Math.round(conn.endedAt! - t)} ms`);
    } finally {
      conn.destroy();
    }
    const trap = await RawConn.open(v.target);
    try {
      trap.write(raw('GET', '/_/trap', v.host));
      assert.equal((await trap.response()).head.status, 200);
      trap.write(raw('GET', '/_/trap', v.host));
      await assert.rejects(trap.head(2000), /connection was closed/);
    } finally {
      trap.destroy();
    }
  }, { service: 'ka', kinds: ['app'] });

  each('GET after the app closed the idle upstream connection → 200, never 502', async (v) => {
    // waits around the app's keepAliveTimeout (200 ms): the request meets a connection the app
    // has closed (or is closing) — every answer must still be the app's 200
    const waits = [250, 260, 300, 210, 205, 200, 195, 230, 400];
    const statuses: string[] = [];
    for (const [i, ms] of waits.entries()) {
      const r = await exchange(v.target, raw('GET', `/ka-${i}`, v.host));
      statuses.push(`${r.head.status}${r.head.status === 200 ? '' : ` ${r.text}`}`);
      await sleep(ms);
    }
    assert.deepEqual(statuses, waits.map(() => '200'));
  }, { service: 'ka', kinds: ['balanced', 'direct'] });

  each('an idempotent request dropped on a reused upstream connection before any response byte is retried on a fresh one → 200', async (v) => {
    // /_/trap drops every request that comes on a connection which already served one: each request
    // after the first meets a reused connection that fails (GET/HEAD/OPTIONS/PUT/DELETE, no body)
    const methods = ['GET', 'GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'GET'];
    const statuses: string[] = [];
    for (const method of methods) {
      const r = await exchange(v.target, raw(method, '/_/trap', v.host), 5000, method);
      statuses.push(`${method} ${r.head.status}${r.head.status === 200 ? '' : ` ${r.text}`}`);
    }
    assert.deepEqual(statuses, methods.map((m) => `${m} 200`));
  }, { service: 'ka', kinds: ['balanced', 'direct'] });
});

describe('listen = "socket": the app listens on $SOCKET_PATH and the proxy connects there', () => {
  each('the request reaches the app over its Unix socket, target and Host as sent', async (v) => {
    const { e } = await echo(v.target, raw('GET', '/a%2Fb/../c?q=%20', v.host));
    assert.equal(e.listen, 'socket');
    assert.equal(e.url, '/a%2Fb/../c?q=%20');
    assert.deepEqual(valuesOf(e.rawHeaders, 'host'), [v.host]);
  }, { service: 'sock', server: 'C' });
});

describe('inflight counters return to 0', () => {
  test('after a client abandons an SSE stream, and after everything above (ten serve A)', async () => {
    const ten = need(A, 'ten serve A');
    for (const host of ['api.localhost', 'v1.api.localhost']) {
      const conn = await RawConn.open({ port: ten.port });
      conn.write(raw('GET', '/_/sse?first=5000', host));
      await conn.head(500).catch(() => undefined); // the stream has started (headers flushed, if they are)
      await sleep(100);
      conn.destroy(); // gone while the app is still streaming
    }
    await waitFor('inflight 0 on every instance', async () => {
      const r = await ten.api('GET', '/api/instances');
      assert.equal(r.status, 200, r.body);
      const list = r.json<{ instances: Array<{ key: string; inflight: number }> }>().instances;
      return list.length > 0 && list.every((i) => i.inflight === 0);
    }, 3000).catch(async (err) => {
      throw new Error(`${err.message}: ${(await ten.api('GET', '/api/instances')).body}`);
    });
  });
});
