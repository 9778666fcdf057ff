// Integration harness: a real `ten serve` child process on a free loopback port with its own
// temp config and data_dir, real app processes, real HTTP. Everything it starts it stops.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { cgroupTag } from '../../core/cgroup.ts';
import { freePort } from '../../core/net.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURE_APP = join(ROOT, 'test/fixtures/app.mjs');
export const NODE_EXAMPLE = join(ROOT, 'examples/node-app/server.js');
export const PY_EXAMPLE = join(ROOT, 'examples/python-app/server.py');
/** What users run as `ten`: the bundle when it is fresh (npm install builds it), else tsx. */
const BIN = join(ROOT, 'bin/ten.js');

export interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string; json<T = any>(): T }

export function sleep(ms: number, opts: { unref?: boolean } = {}): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    if (opts.unref) t.unref();
  });
}

/** Poll `fn` every 25 ms until it returns a truthy value or `ms` pass (then throw with `what`). */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** One HTTP request to 127.0.0.1:port with the given Host header. A GET or HEAD sent on a
 *  kept-alive connection that the server closed at that same moment (its keepalive_timeout) is
 *  sent again once on a new one, as RFC 9112 §9.3.1 allows and Node's docs advise
 *  (request.reusedSocket); any other failure is the caller's. */
export function request(port: number, host: string, path: string, opts: {
  method?: string; headers?: http.OutgoingHttpHeaders; body?: string; timeoutMs?: number;
  /** Connect from this local address (127.0.0.2, say: another client), on a fresh connection. */
  localAddress?: string;
} = {}, retried = false): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET',
      ...(opts.localAddress ? { localAddress: opts.localAddress, agent: false } : { agent }),
      headers: { host, ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) });
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error(`request ${host}${path} timed out`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const idempotent = ['GET', 'HEAD'].includes(opts.method ?? 'GET');
      if (!retried && idempotent && req.reusedSocket && err.code === 'ECONNRESET') resolve(request(port, host, path, opts, true));
      else reject(err);
    });
    req.end(opts.body);
  });
}

export interface Ten {
  port: number;
  dir: string;
  configPath: string;
  token: string;
  child: ChildProcess;
  /** Everything ten serve printed so far. */
  output(): string;
  get(host: string, path?: string, opts?: Parameters<typeof request>[3]): Promise<Reply>;
  /** Management API call on the domain host with the token. */
  api(method: string, path: string, body?: unknown, token?: string | null): Promise<Reply>;
  /** Run the real `ten` CLI against this server. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** SIGTERM (or `signal`) and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Start a new ten serve on the same dir and port (after stop()), with `args` after `serve`. */
  restart(args?: string[]): Promise<Ten>;
}

/** Write `toml` (data_dir and listen are added) into a fresh temp dir and start ten serve on it:
 *  `node <opts.node> serve …`, where opts.node (default: `bin/ten.js`, which runs the bundle when it is fresh, else tsx) is how
 *  tenement is run (another loader, the bundle). */
export async function startTen(toml: string, opts: { files?: Record<string, string>; node?: string[]; args?: string[] } = {}): Promise<Ten> {
  const dir = mkdtempSync(join(tmpdir(), 'ten-it-'));
  // run as root, ten serve starts apps as nobody (docs/isolation.md): they must reach their workdir
  chmodSync(dir, 0o755);
  dirs.add(dir);
  for (const [name, text] of Object.entries(opts.files ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const configPath = join(dir, 'tenement.toml');
  const withSettings = toml.includes('[settings]') ? toml.replace('[settings]', `[settings]\nlisten = "127.0.0.1"\ndata_dir = "./data"`)
    : `[settings]\nlisten = "127.0.0.1"\ndata_dir = "./data"\n${toml}`;
  writeFileSync(configPath, withSettings);
  return launch(dir, configPath, await freePort(new Set()), opts.node ?? [BIN], opts.args ?? []);
}

async function launch(dir: string, configPath: string, port: number, node: string[], args: string[]): Promise<Ten> {
  let out = '';
  const child = spawn(process.execPath, [...node, 'serve', '--config', configPath, '--port', String(port), ...args], {
    cwd: dir, env: { ...process.env, TENEMENT_LOG_LEVEL: 'debug', TENEMENT_LOG_PRETTY: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => { exited = code; r(code); }));
  live.add(child);
  exit.then(() => live.delete(child));
  // registered before the wait: a server that never answers is stopped by cleanup() all the same
  cleanups.push(async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      await Promise.race([exit, sleep(15_000, { unref: true })]);
      if (exited === undefined) child.kill('SIGKILL');
    }
  });
  await waitFor(`ten serve on port ${port}`, async () => {
    if (exited !== undefined) throw new Error(`ten serve exited with ${exited}:\n${out}`);
    // our own process must say it listens: freePort() cannot reserve the port, and another test's
    // ten serve that took it in between would answer /health just as well
    if (!out.includes('"msg":"tenement listening"')) return false;
    return request(port, 'localhost', '/health').then((r) => r.status === 200, () => false);
  }, 20_000).catch((err: Error) => { throw new Error(`${err.message}; it printed:\n${out.slice(-2000)}`); });
  const token = readFileSync(join(dir, 'data', 'api_token'), 'utf8').trim();
  const ten: Ten = {
    port, dir, configPath, token, child,
    output: () => out,
    get: (host, path = '/', o) => request(port, host, path, o),
    api: (method, path, body, tok = token) => request(port, 'localhost', path, {
      method, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      headers: { ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    }),
    cli: (...args) => runCli(args, { TENEMENT_SERVER: `http://127.0.0.1:${port}`, TENEMENT_TOKEN: token }, dir),
    stop: async (signal = 'SIGTERM') => {
      if (exited === undefined) child.kill(signal);
      return exit;
    },
    restart: (more = []) => launch(dir, configPath, port, node, more),
  };
  return ten;
}

export function runCli(args: string[], env: Record<string, string>, cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code: code ?? 1, stdout, stderr }); });
  });
}

const live = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void>> = [];

const dirs = new Set<string>();

/** Stop every ten serve this file started and remove their folders (call from after()). */
export async function cleanup(): Promise<void> {
  await Promise.all(cleanups.splice(0).map((c) => c()));
  // a ten serve killed (by a test, or by the SIGKILL above) leaves its apps running for the next
  // one to adopt (docs/security.md): none will come, so they are ended here
  for (const d of dirs) killLeftovers(join(d, 'data'));
  if ([...dirs].length > 0) await sleep(100); // the killed are reaped: their cgroups can go
  for (const d of dirs) removeCgroups(cgroupTag(join(d, 'data')));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
  agent.destroy();
}

/** An instance as GET /api/instances shows it (the fields tests look at). */
export interface InstanceView { key: string; state: string; pid: number | null; weight: number }

export const instances = async (ten: Ten): Promise<InstanceView[]> => (await ten.api('GET', '/api/instances')).json().instances;

/** Waits until exactly `n` instances exist and all are running; resolves with them. */
export const allRunning = (ten: Ten, n: number, ms = 20_000): Promise<InstanceView[]> => waitFor(`${n} running instances`, async () => {
  const l = await instances(ten);
  return l.length === n && l.every((i) => i.state === 'running') ? l : undefined;
}, ms);

/** The process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try { return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

/** SIGKILL every process whose environment has DATA_DIR under `dataDir` (apps, their inits and
 *  wrappers: ten serve gives them all the app's environment). */
export function killLeftovers(dataDir: string): number {
  let n = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!`\0${readFileSync(`/proc/${e}/environ`, 'utf8')}`.includes(`\0DATA_DIR=${dataDir}/`)) continue;
      process.kill(Number(e), 'SIGKILL');
      n++;
    } catch { /* gone, or not ours to read */ }
  }
  return n;
}

/** Remove the (empty) cgroup folders named `tag` and their instance folders, wherever under
 *  /sys/fs/cgroup they are (a ten serve killed for good leaves them). */
export function removeCgroups(tag: string): void {
  const walk = (dir: string, depth: number): void => {
    let entries: string[] = [];
    try { entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { return; }
    for (const name of entries) {
      const path = join(dir, name);
      if (name === tag) {
        for (const inner of readdirSync(path, { withFileTypes: true })) if (inner.isDirectory()) { try { rmdirSync(join(path, inner.name)); } catch { /* busy */ } }
        try { rmdirSync(path); } catch { /* busy */ }
      } else if (depth < 4 && !name.startsWith('tenement-')) walk(path, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
}

export function rmDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A [service.NAME] table running the fixture app (INSTANCE = "{name}:{id}"). */
export function fixtureService(name: string, extra = ''): string {
  return `[service.${name}]\nargs = ["${process.execPath}", "${FIXTURE_APP}"]\nhealth = "/health"\n${extra}\n[service.${name}.env]\nINSTANCE = "{name}:{id}"\n`;
}
