// The proxy: forwards a routed request or WebSocket to its instance with http-proxy-3 over a
// keep-alive agent per instance, adds X-Forwarded-*, maps upstream failures to 502/503/504,
// retries once on another instance when the first refused or reset a bodiless idempotent
// request, and reports every request to hooks.requestDone.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from 'pino';
import { TenementError, type ErrorCode } from './errors.ts';
import type { Hooks } from './hooks.ts';
import type { Router } from './router.ts';
import type { Instance, RequestContext, Target, TenementConfig } from './types.ts';

type ServiceTarget = Extract<Target, { kind: 'service' }>;

/** How long a connection refusal keeps an instance out of balancing (health may clear it sooner). */
const EJECT_MS = 2000;

export class Proxy {
  private readonly proxy = createProxyServer({ xfwd: true });
  private readonly agents = new Map<string, { port: number; agent: http.Agent }>();

  constructor(private readonly d: { config: TenementConfig; hooks: Hooks; router: Router; log: Logger }) {
    this.proxy.on('error', (err) => d.log.error({ err }, 'proxy error without handler'));
    d.hooks.transition.tap('tenement', ({ instance, to }) => {
      if (to !== 'running' && to !== 'unhealthy' && to !== 'stopping') this.dropAgent(instance.key);
      if (to === 'running') instance.ejectedUntil = 0;
    });
  }

  async web(ctx: RequestContext, target: ServiceTarget): Promise<void> {
    const res = ctx.res!;
    let current: Instance | undefined;
    res.once('close', () => {
      if (current) {
        current.inflight -= 1;
        current.lastRequestAt = Date.now();
      }
      this.d.hooks.requestDone.call(ctx, {
        instance: current, durationMs: performance.now() - ctx.start,
        // 499 (as nginx logs it): the client went away before the response was complete
        status: res.writableFinished ? res.statusCode : 499,
        code: (res as { tenCode?: string }).tenCode,
      });
    });
    const forward = (inst: Instance, retried: boolean) => {
      current = inst;
      ctx.instance = inst;
      inst.inflight += 1;
      inst.lastRequestAt = Date.now();
      const timeoutMs = this.d.config.services[inst.service].request_timeout * 1000;
      // proxyTimeout aborts the upstream request with a plain reset; this flag tells the two apart
      let timedOut = false;
      const timer = setTimeout(() => { timedOut = true; }, timeoutMs);
      res.once('close', () => clearTimeout(timer));
      this.d.hooks.forward.call(ctx, inst);
      this.proxy.web(ctx.req, res, {
        target: { host: '127.0.0.1', port: inst.port! }, agent: this.agent(inst), proxyTimeout: timeoutMs,
      }, (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (res.headersSent) { res.destroy(); return; }
        if (err.code === 'ECONNREFUSED') inst.ejectedUntil = Date.now() + EJECT_MS;
        if (!timedOut && !retried && retryable(ctx.req, err.code)) {
          inst.inflight -= 1;
          current = undefined;
          // balanced: another instance; direct: the same one once its exit is seen (the scaler,
          // if any, then holds the request until the restarted process is ready)
          const next = target.instanceId === undefined ? this.d.router.pick(ctx, target, inst)
            : exited(inst).then((gone) => {
              if (!gone) throw new TenementError('TEN_ERR_ROUTE_NO_INSTANCE', [inst.key]); // alive: answer 502 below
              return this.d.router.pick(ctx, target, inst);
            });
          next.then((n) => forward(n, true), (e) => this.fail(res,
            // no other instance to try: report what happened to this one, not an empty service
            e instanceof TenementError && e.code === 'TEN_ERR_ROUTE_NO_INSTANCE'
              ? new TenementError('TEN_ERR_ROUTE_UPSTREAM_UNREACHABLE', [inst.key, err.code ?? err.message]) : e));
          return;
        }
        if (timedOut) {
          this.fail(res, new TenementError('TEN_ERR_ROUTE_UPSTREAM_TIMEOUT', [inst.key, timeoutMs / 1000]));
        } else {
          this.fail(res, new TenementError('TEN_ERR_ROUTE_UPSTREAM_UNREACHABLE', [inst.key, err.code ?? err.message]));
        }
      });
    };
    try {
      forward(await this.d.router.pick(ctx, target), false);
    } catch (err) {
      this.fail(res, err);
    }
  }

  async ws(ctx: RequestContext, socket: Duplex, head: Buffer, target: ServiceTarget): Promise<void> {
    let inst: Instance;
    try {
      inst = await this.d.router.pick(ctx, target);
    } catch (err) {
      return this.failUpgrade(socket, err);
    }
    ctx.instance = inst;
    inst.inflight += 1;
    inst.lastRequestAt = Date.now();
    socket.once('close', () => {
      inst.inflight -= 1;
      inst.lastRequestAt = Date.now();
      this.d.hooks.requestDone.call(ctx, { instance: inst, status: 101, durationMs: performance.now() - ctx.start });
    });
    this.proxy.ws(ctx.req, socket, head, { target: { host: '127.0.0.1', port: inst.port! } }, (err: Error) => {
      this.d.log.warn({ instance: inst.key, err: err.message }, 'websocket proxy error');
      socket.destroy();
    });
  }

  /** Answer an upgrade the proxy could not forward, on the raw socket, the same way as fail(). */
  failUpgrade(socket: Duplex, err: unknown): void {
    const e = asTenementError(err, this.d.log);
    const body = JSON.stringify(e.toJSON());
    socket.end(`HTTP/1.1 ${e.statusCode} ${http.STATUS_CODES[e.statusCode]}\r\nconnection: close\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `${e.statusCode === 503 ? 'retry-after: 1\r\n' : ''}\r\n${body}`);
  }

  /** Answer a request the proxy could not forward: JSON {code, message, hint}, Retry-After on 503. */
  fail(res: http.ServerResponse, err: unknown): void {
    const e = asTenementError(err, this.d.log);
    if (res.headersSent) { res.destroy(); return; }
    const body = JSON.stringify(e.toJSON());
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (e.statusCode === 503) headers['retry-after'] = '1';
    (res as { tenCode?: ErrorCode }).tenCode = e.code;
    res.writeHead(e.statusCode, headers).end(body);
  }

  private agent(inst: Instance): http.Agent {
    const have = this.agents.get(inst.key);
    if (have && have.port === inst.port) return have.agent;
    have?.agent.destroy();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 60_000 });
    this.agents.set(inst.key, { port: inst.port!, agent });
    return agent;
  }

  private dropAgent(key: string): void {
    this.agents.get(key)?.agent.destroy();
    this.agents.delete(key);
  }

  close(): void {
    for (const key of [...this.agents.keys()]) this.dropAgent(key);
    this.proxy.close();
  }
}

/** true once the instance's process is seen to be gone (state or pid change); false after 250 ms. */
async function exited(inst: Instance): Promise<boolean> {
  const pid = inst.pid;
  for (let waited = 0; waited < 250; waited += 5) {
    if (inst.pid !== pid || inst.state !== 'running') return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

/**
 * A failed attempt may be sent again, to another instance, when nothing of it can have been
 * acted on: a refused connection for any bodiless request, and a reset (typically a keep-alive
 * socket to a process that just died) for bodiless idempotent methods only.
 */
function retryable(req: http.IncomingMessage, code: string | undefined): boolean {
  const len = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0')) return false;
  if (code === 'ECONNREFUSED') return true;
  return code === 'ECONNRESET' && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS');
}

export function asTenementError(err: unknown, log: Logger): TenementError {
  if (err instanceof TenementError) {
    if (err.statusCode >= 500 && err.code === 'TEN_ERR_PLUGIN_FAILED') log.error({ err }, 'plugin failed on a request');
    return err;
  }
  log.error({ err }, 'unexpected error while routing');
  return new TenementError('TEN_ERR_API_INTERNAL', [], {}, err);
}
