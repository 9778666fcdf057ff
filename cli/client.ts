// The HTTP client of the management API that every command but serve/config/version uses.
// Server: --server, else TENEMENT_SERVER, else [settings] api_listen of the config file when it
// sets one (a loopback address, or a Unix socket: requests then go over it), else the config
// file's listen and port, else http://localhost:8080.
// Token: --token, else TENEMENT_TOKEN, else {data_dir}/api_token (data_dir from the config file if
// one is found, else ./tenement-data).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { TenementError, tenErr } from '../core/errors.ts';
import type { ReloadReport, Settings } from '../core/types.ts';
import { API_HEADER, type HealthView, type InstanceView } from '../core/view.ts';
import { instancePath, type InstanceRef } from './instance-ref.ts';

const DEFAULT_SERVER = 'http://localhost:8080';
/** How long `ten reload` waits for its answer: a reload restarts changed services' instances one
 *  at a time, each within its drain_timeout + stop_timeout + startup_timeout. */
export const RELOAD_TIMEOUT_MS = 15 * 60_000;

/** An error answered by the server ({code, message, hint}), relayed as is. */
export class ApiError extends Error {
  constructor(readonly code: string, message: string, readonly hint: string, readonly status: number) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ClientOptions {
  server?: string;
  token?: string;
  /** --config: where to look for data_dir when the token comes from {data_dir}/api_token. */
  config?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** --request-timeout: bounds every exchange (default: READ_TIMEOUT_MS for GET, WRITE_TIMEOUT_MS
   *  for the rest, RELOAD_TIMEOUT_MS for a reload). */
  timeoutMs?: number;
  /** --connect-timeout (default CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /** Called once per request that has had no answer for NOTICE_MS, with a line saying so. */
  notice?: (line: string) => void;
  /** Called with one line per request (--debug). */
  log?: (line: string) => void;
}

/** Where requests go: `label` names it in messages (http://host:port, unix:/path), `origin` is the
 *  URL base, `socketPath` a Unix socket to connect to instead of origin's host and port. */
export interface Endpoint { label: string; origin: string; socketPath?: string }

/** Where the config file says ten serve is: the settings a client needs. */
type ClientSettings = Pick<Settings, 'data_dir'> & Partial<Pick<Settings, 'api_listen' | 'listen' | 'port'>>;

/**
 * The settings of the config file `opts` leads to (--config, TENEMENT_CONFIG, ./tenement.toml), or
 * undefined when there is none. A file with errors elsewhere (one being edited: `ten reload` must
 * still reach the server to be told what is wrong) is read leniently: its [settings] keys this
 * client needs, when they are of the right type; a file that is not TOML gives undefined.
 */
async function configSettings(opts: ClientOptions): Promise<ClientSettings | undefined> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  // loaded only here, so commands given a server and a token never parse the config file
  const { findConfigPath, loadConfig } = await import('../core/config.ts');
  const path = findConfigPath({ path: opts.config, cwd, env });
  if (!path) return undefined;
  try {
    return loadConfig({ path, cwd, env }).settings;
  } catch (err) {
    // (TEN_ERR_TLS_*: [settings.tls] names files this user may not read, such as a root-only key)
    if (!(err instanceof TenementError) || !/^TEN_ERR_(CONFIG|TLS)_/.test(err.code)) throw err;
    const { SettingsSchema } = await import('../core/config-schema.ts');
    let raw: Record<string, unknown> = {};
    try {
      const { parse } = await import('smol-toml');
      const settings = parse(readFileSync(path, 'utf8')).settings;
      if (settings && typeof settings === 'object' && !Array.isArray(settings)) raw = settings as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const text = (k: string) => (typeof raw[k] === 'string' ? raw[k] as string : undefined);
    return {
      data_dir: resolve(dirname(path), text('data_dir') ?? SettingsSchema.properties.data_dir.default),
      api_listen: text('api_listen'),
      listen: text('listen'),
      port: Number.isInteger(raw.port) ? raw.port as number : undefined,
    };
  }
}

/** --server, TENEMENT_SERVER, else the config's api_listen (docs/access.md#api_listen), else the
 *  config's listen and port (0.0.0.0 and :: as loopback), else the default. */
export async function resolveEndpoint(opts: ClientOptions): Promise<Endpoint> {
  const env = opts.env ?? process.env;
  if (opts.server === undefined && !env.TENEMENT_SERVER) {
    const s = await configSettings(opts);
    const listen = s?.api_listen;
    if (listen?.startsWith('unix:')) return { label: listen, origin: 'http://localhost', socketPath: listen.slice(5) };
    if (listen !== undefined) return { label: `http://${listen}`, origin: `http://${listen}` };
    if (s?.port !== undefined || s?.listen !== undefined) {
      const host = !s.listen || s.listen === '0.0.0.0' ? '127.0.0.1' : s.listen === '::' ? '[::1]' : s.listen.includes(':') ? `[${s.listen}]` : s.listen;
      const url = `http://${host}:${s.port ?? 8080}`;
      return { label: url, origin: url };
    }
  }
  const url = resolveServer(opts.server, env);
  return { label: url, origin: url };
}

export function resolveServer(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  // an empty TENEMENT_SERVER is no server given
  const given = (flag ?? (env.TENEMENT_SERVER || undefined) ?? DEFAULT_SERVER).trim();
  const raw = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `http://${given}`;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {}
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid server address ${JSON.stringify(given)}: expected http://host:port`);
  }
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** --token, TENEMENT_TOKEN, or the api_token file that ten serve writes; undefined if none. */
export async function resolveToken(opts: ClientOptions): Promise<string | undefined> {
  const env = opts.env ?? process.env;
  if (opts.token) return opts.token;
  if (env.TENEMENT_TOKEN) return env.TENEMENT_TOKEN;
  const cwd = opts.cwd ?? process.cwd();
  const dataDir = (await configSettings(opts))?.data_dir ?? resolve(cwd, 'tenement-data');
  try {
    return readFileSync(join(dataDir, 'api_token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function reason(e: unknown): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'ClosedError')) return e.message;
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  return (e as { code?: string }).code ?? cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}

interface Answer { status: number; ok: boolean; headers: http.IncomingHttpHeaders; text: string }

/** How long one exchange may take, in ms: `connect` until the connection is open, `total` for the
 *  whole exchange; `notice(ms)` is called once when no answer has come after NOTICE_MS. */
interface Limits { connect: number; total: number; notice?: (ms: number, connecting: boolean) => void }

/** After this long without an answer, a command says it is waiting (issue 13: a silent `ten` for 120 s). */
export const NOTICE_MS = 2000;
/** An event stream with no byte for this long is taken as ended: ten serve pings every 15 s. */
export const STREAM_IDLE_MS = 35_000;
/** Defaults of --connect-timeout and --request-timeout (reads; writes get WRITE_TIMEOUT_MS). */
export const CONNECT_TIMEOUT_MS = 5000;
export const READ_TIMEOUT_MS = 30_000;
export const WRITE_TIMEOUT_MS = 120_000;

const timeoutError = (message: string) => Object.assign(new Error(message), { name: 'TimeoutError' });
const closedError = (message: string) => Object.assign(new Error(message), { name: 'ClosedError' });

/** Calls `onTimeout` with a TimeoutError when `req`'s new connection is not open within `ms` (a
 *  reused or Unix-socket connection that is already open is not timed). */
function boundConnect(req: http.ClientRequest, ms: number, onTimeout: (err: Error) => void): void {
  req.once('socket', (socket) => {
    if (!socket.connecting) return;
    const t = setTimeout(() => onTimeout(timeoutError(`no connection within ${seconds(ms)}`)), ms);
    socket.once('connect', () => clearTimeout(t)).once('close', () => clearTimeout(t));
  });
}
const seconds = (ms: number) => `${+(ms / 1000).toFixed(1)} s`;

/**
 * One request with node:http(s). (fetch would make every `ten` command compile its HTTP parser
 * first: about 0.2 s of a command's start.) Settles exactly once, whatever the peer does: a
 * connection not open within `limits.connect` or an exchange not done within `limits.total` fails
 * with an Error named TimeoutError; a connection closed before a whole answer (a peer that is not
 * an HTTP server, a `101 Switching Protocols`) with one named ClosedError; a connection failure
 * with the socket's error (code ECONNREFUSED…).
 */
async function exchange(url: string, socketPath: string | undefined, method: string, headers: Record<string, string>, body: string | undefined, limits: Limits): Promise<Answer> {
  const mod = url.startsWith('https:') ? await import('node:https') : http;
  return new Promise<Answer>((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      fn();
    };
    const fail = (err: Error) => settle(() => { reject(err); req.destroy(); });
    let answering = false;
    const closed = () => fail(closedError(answering ? 'the connection closed before the whole answer' : 'the connection closed without an answer'));
    const req = mod.request(url, { method, socketPath, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      answering = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        // no management answer is near this: a peer streaming without end is not ten serve
        if (size > MAX_ANSWER_BYTES) fail(new Error(`an answer larger than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(c);
      });
      res.once('error', fail);
      res.once('end', () => settle(() => {
        const status = res.statusCode ?? 0;
        resolve({ status, ok: status >= 200 && status < 300, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      }));
      res.once('close', closed);
    });
    // RFC 9110 §15.2.2: a client that did not ask to upgrade has no use for 101; Node would hand
    // the socket to an 'upgrade' listener, and without one the request never settled (exit 13)
    req.once('upgrade', (_res, socket) => { socket.destroy(); fail(closedError('it answered 101 Switching Protocols')); });
    boundConnect(req, limits.connect, fail);
    timers.push(setTimeout(() => fail(timeoutError(`no answer to ${method} ${new URL(url).pathname} within ${seconds(limits.total)}`)), limits.total));
    if (limits.notice && limits.total > NOTICE_MS) timers.push(setTimeout(() => limits.notice!(NOTICE_MS, req.socket?.connecting ?? true), NOTICE_MS));
    req.once('error', fail);
    req.once('close', closed);
    req.end(body);
  });
}

/** The largest answer the client reads (bytes): `ten logs --limit 10000` of long lines fits. */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

export class Client {
  private tokenPromise?: Promise<string>;
  /** `GET /api/instances`: the last request ten serve answered with success (for TEN_ERR_CLI_BAD_ANSWER). */
  lastAnswer?: string;
  private endpointPromise?: Promise<Endpoint>;
  private resolved?: Endpoint;
  private readonly given: string;

  constructor(private readonly opts: ClientOptions = {}) {
    // a bad --server or TENEMENT_SERVER fails here, before anything else
    this.given = resolveServer(opts.server, opts.env ?? process.env);
  }

  /** The server as messages name it: once a request was sent, where it went. */
  get server(): string {
    return this.resolved?.label ?? this.given;
  }

  /** Where requests go (resolveEndpoint), resolved on first use. */
  endpoint(): Promise<Endpoint> {
    this.endpointPromise ??= resolveEndpoint(this.opts).then((e) => (this.resolved = e));
    return this.endpointPromise;
  }

  list(service?: string): Promise<{ instances: InstanceView[] }> {
    return this.request('GET', `/api/instances${service ? `?service=${encodeURIComponent(service)}` : ''}`);
  }
  get(ref: InstanceRef): Promise<InstanceView> {
    return this.request('GET', instancePath(ref));
  }
  spawn(ref: InstanceRef, weight?: number): Promise<InstanceView> {
    return this.request('POST', '/api/instances', { service: ref.service, id: ref.id, ...(weight === undefined ? {} : { weight }) });
  }
  stop(ref: InstanceRef): Promise<InstanceView> {
    return this.request('DELETE', instancePath(ref));
  }
  restart(ref: InstanceRef): Promise<InstanceView> {
    return this.request('POST', `${instancePath(ref)}/restart`);
  }
  setWeight(ref: InstanceRef, weight: number): Promise<InstanceView> {
    return this.request('PUT', `${instancePath(ref)}/weight`, { weight });
  }
  probe(ref: InstanceRef): Promise<HealthView> {
    return this.request('POST', `${instancePath(ref)}/health`);
  }
  /** POST /api/reload: ten serve re-reads its tenement.toml (core/reload.ts). */
  reload(): Promise<ReloadReport> {
    return this.request('POST', '/api/reload', undefined, true, RELOAD_TIMEOUT_MS);
  }
  health(): Promise<{ status: string; version: string }> {
    return this.request('GET', '/health', undefined, false);
  }

  /** One API call. The whole exchange is bounded by --request-timeout, else `timeoutMs`, else
   *  READ_TIMEOUT_MS (GET) or WRITE_TIMEOUT_MS; the connection by --connect-timeout. A timeout is
   *  TEN_ERR_CLI_TIMEOUT, any other failure to get ten serve's answer TEN_ERR_CLI_SERVER_UNREACHABLE. */
  async request<T>(method: string, path: string, body?: unknown, auth = true, timeoutMs?: number): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth) headers.authorization = `Bearer ${await this.token()}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const ep = await this.endpoint();
    const url = ep.origin + path;
    const t0 = performance.now();
    let res: Answer;
    try {
      res = await exchange(url, ep.socketPath, method, headers, body === undefined ? undefined : JSON.stringify(body), this.limits(method, path, timeoutMs));
    } catch (e) {
      if (e instanceof Error && e.name === 'TimeoutError' && !e.message.startsWith('no connection')) {
        throw new TenementError('TEN_ERR_CLI_TIMEOUT', [this.server, reason(e)], {}, e);
      }
      throw new TenementError('TEN_ERR_CLI_SERVER_UNREACHABLE', [this.server, reason(e)], {}, e);
    }
    this.opts.log?.(`${method} ${ep.socketPath === undefined ? url : `${ep.label} ${path}`} -> ${res.status} (${Math.round(performance.now() - t0)} ms)`);
    const answer = this.answer<T>(res, method, path);
    this.lastAnswer = `${method} ${path.split('?')[0]}`;
    return answer;
  }

  /** The bounds of one exchange (see request()). */
  private limits(method: string, path: string, timeoutMs?: number): Limits {
    const total = this.opts.timeoutMs ?? timeoutMs ?? (method === 'GET' ? READ_TIMEOUT_MS : WRITE_TIMEOUT_MS);
    const notice = this.opts.notice;
    const connect = this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    return {
      connect,
      total,
      notice: notice && ((ms, connecting) => notice(connecting
        ? `waiting for a connection to ten serve at ${this.server} (${seconds(ms)} so far; gives up after ${seconds(connect)}, --connect-timeout)`
        : `waiting for ten serve at ${this.server} to answer ${method} ${path} (${seconds(ms)} so far; gives up after ${seconds(total)}, --request-timeout)`)),
    };
  }

  /** The JSON of an answer of ten serve, or its error as an ApiError (anything that is not ten
   *  serve's answer: TEN_ERR_CLI_SERVER_UNREACHABLE). */
  private answer<T>(res: Answer, method: string, path: string): T {
    const text = res.text;
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {}
    const e = json as { code?: unknown; message?: unknown; hint?: unknown } | undefined;
    // ten serve marks every management answer; anything else (an app, another proxy) is not it
    const fromTen = res.headers[API_HEADER] !== undefined;
    if (fromTen && !res.ok && typeof e?.code === 'string' && typeof e.message === 'string') {
      throw new ApiError(e.code, e.message, typeof e.hint === 'string' ? e.hint : '', res.status);
    }
    if (!fromTen || !res.ok || json === undefined) {
      const what = `HTTP ${res.status} from ${method} ${path} is not a ten serve API answer`;
      throw new TenementError('TEN_ERR_CLI_SERVER_UNREACHABLE', [this.server, what]);
    }
    return json as T;
  }

  /**
   * Follow a Server-Sent Events answer of GET `path`: `onEvent(event, data)` for each event (when
   * it returns a promise, the socket is not read until it settles: backpressure), until
   * the server ends the stream (resolves) or `signal` aborts (resolves). A connection that fails,
   * or no response head within `timeoutMs`, is TEN_ERR_CLI_SERVER_UNREACHABLE; an error answer is
   * its ApiError.
   */
  async events(path: string, onEvent: (event: string, data: string) => void | Promise<void>, signal?: AbortSignal, onOpen?: () => void): Promise<void> {
    const headers = { accept: 'text/event-stream', authorization: `Bearer ${await this.token()}` };
    const ep = await this.endpoint();
    const url = ep.origin + path;
    const mod = url.startsWith('https:') ? await import('node:https') : http;
    const unreachable = (e: unknown) => new TenementError('TEN_ERR_CLI_SERVER_UNREACHABLE', [this.server, reason(e)], {}, e);
    const closed = (what: string) => unreachable(closedError(what));
    const { connect } = this.limits('GET', path);
    const headMs = this.opts.timeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      let answered = false;
      const req = mod.request(url, { headers, signal, socketPath: ep.socketPath }, (res) => {
        answered = true;
        clearTimeout(timer);
        const type = String(res.headers['content-type'] ?? 'none');
        if (res.statusCode === 200 && !type.startsWith('text/event-stream')) {
          req.destroy();
          reject(unreachable(new Error(`HTTP 200 from GET ${path.split('?')[0]} is not an event stream (content-type ${type})`)));
          return;
        }
        if (res.statusCode !== 200) {
          // an error answer is read within the same bound as the head
          const body = setTimeout(() => req.destroy(timeoutError(`no whole answer within ${seconds(headMs)}`)), headMs);
          res.once('close', () => clearTimeout(body));
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if ((size += c.length) <= 1024 * 1024) chunks.push(c);
            else req.destroy(new Error('an error answer larger than 1 MiB'));
          }).once('end', () => {
            try {
              this.answer({ status: res.statusCode ?? 0, ok: false, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }, 'GET', path);
            } catch (e) { reject(e); }
          });
          res.once('error', (e) => reject(unreachable(e)));
          res.once('close', () => reject(closed('the connection closed before the whole answer')));
          return;
        }
        onOpen?.();
        // ten serve writes `: ping` after 15 s without an event (core/sse.ts): a stream silent for
        // two pings and more is a server that stopped (frozen, cut off), ended as if it had closed.
        // Not timed while this side holds the reading back (a slow reader: `ten logs -f | less`).
        let idle: NodeJS.Timeout | undefined;
        const watch = () => { clearTimeout(idle); idle = setTimeout(() => req.destroy(), STREAM_IDLE_MS); };
        watch();
        res.once('close', () => clearTimeout(idle));
        // text/event-stream: events end at a blank line; `event:` and `data:` fields (WHATWG HTML)
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          watch();
          buf += c;
          let end: number;
          while ((end = buf.indexOf('\n\n')) !== -1) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            const wait = data.length ? onEvent(event, data.join('\n')) : undefined;
            if (wait) { // the caller is behind: read nothing more until it has caught up
              res.pause();
              clearTimeout(idle);
              void wait.then(() => { res.resume(); watch(); });
            }
          }
          if (buf.length > 4 * 1024 * 1024) req.destroy(new Error('an event larger than 4 MiB'));
        });
        res.once('end', () => resolve());
        res.once('error', (e) => (signal?.aborted ? resolve() : reject(unreachable(e))));
        // a server that dies mid-stream (kill -9) ends it without 'end' (Node: 'aborted', 'close')
        res.once('close', () => resolve());
      });
      const timer = setTimeout(() => req.destroy(timeoutError(`no answer within ${seconds(headMs)}`)), headMs);
      boundConnect(req, connect, (err) => req.destroy(err));
      req.once('upgrade', (_res, socket) => { socket.destroy(); clearTimeout(timer); reject(closed('it answered 101 Switching Protocols')); });
      req.once('error', (e) => { clearTimeout(timer); if (signal?.aborted) resolve(); else reject(unreachable(e)); });
      // settles nothing that already settled; a connection closed before any answer is a failure
      req.once('close', () => { clearTimeout(timer); if (!answered) (signal?.aborted ? resolve() : reject(closed('the connection closed without an answer'))); });
      req.end();
    });
  }

  /** Resolved on first use; when there is none, says whether the server is even up first. */
  private token(): Promise<string> {
    this.tokenPromise ??= (async () => {
      const token = await resolveToken(this.opts);
      if (token) return token;
      await this.health();
      throw tenErr('TEN_ERR_CLI_NO_TOKEN');
    })();
    return this.tokenPromise;
  }
}
