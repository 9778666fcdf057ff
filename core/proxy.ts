// The proxy: for each routed request, ask the router for an instance, have the forwarder send it,
// and decide what a failure means — retry (RFC 9112 §9.3.1), another instance, or an answer of
// tenement's own (502/503/504 with a code). WebSocket upgrades go through http-proxy-3.
import http from 'node:http';
import { PassThrough, type Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from 'pino';
import { TenementError } from './errors.ts';
import { Forwarder, requestHeaders, type AttemptError, type AttemptRequest, type ClientInfo } from './forward/index.ts';
import { answerAsRecipient, classify, IDEMPOTENT, maxForwardsZero, type Kind } from './forward/rules.ts';
import { CORE_TAP, type Hooks } from './hooks.ts';
import { httpTarget, instanceAddress } from './net.ts';
import { describeExit } from './process.ts';
import type { Router } from './router.ts';
import type { Instance, RequestContext, Target, TenementConfig } from './types.ts';
import { waitUntil } from './wait.ts';

type ServiceTarget = Extract<Target, { kind: 'service' }>;

/** How long a connection refusal keeps an instance out of balancing (health may clear it sooner). */
const EJECT_MS = 2000;

/** One proxied request: the instance it is on, the attempt in flight, and how to stop it. */
interface Exchange {
  /** The client left: stop the attempt (the upstream slot and `inflight` are released). */
  cancel(): void;
}

export class Proxy {
  readonly forwarder: Forwarder;
  private readonly ws = createProxyServer({ xfwd: false });

  constructor(private readonly d: { config: TenementConfig; hooks: Hooks; router: Router; log: Logger }) {
    this.forwarder = new Forwarder(d);
    this.ws.on('error', (err) => d.log.error({ err }, 'websocket proxy error without handler'));
    d.hooks.transition.tap(CORE_TAP, ({ instance, to }) => {
      if (to !== 'running' && to !== 'unhealthy' && to !== 'stopping') this.forwarder.drop(instance.key);
      if (to === 'running') instance.ejectedUntil = 0;
    });
  }

  /**
   * Forward a request to its service: pick, send, and on failure retry or answer. `client`
   * describes the connection (X-Forwarded-*); `o.expect`: the client sent Expect: 100-continue;
   * `o.body`: the request has a body (the listener has looked already).
   */
  web(ctx: RequestContext, target: ServiceTarget, client: ClientInfo, o: { expect: boolean; body: boolean }): Exchange {
    const req = ctx.req;
    const res = ctx.res!;
    // OPTIONS * asks about the server, not a resource (RFC 9112 §3.2.4): tenement answers for it
    if ((client.maxForwards && maxForwardsZero(req.rawHeaders)) || ctx.path === '*') {
      answerAsRecipient(req, res);
      return { cancel: () => undefined };
    }
    const svc = this.d.config.services[target.service];
    const { expect, body } = o;
    const r: AttemptRequest = {
      method: req.method!, path: ctx.path, body: null, head: req.method === 'HEAD',
      headers: requestHeaders(req.rawHeaders, client, routedHost(ctx, client)),
      headersTimeoutMs: (svc?.request_timeout ?? 30) * 1000, bodyTimeoutMs: (svc?.response_idle_timeout ?? 60) * 1000,
    };
    const replayable = !body && !expect;
    const idempotent = IDEMPOTENT.has(req.method!);
    let cancel: ((err: Error) => void) | undefined;
    let left = false;
    let forwarded = false;

    const send = (inst: Instance, fresh: boolean, tries: number) => {
      ctx.instance = inst;
      r.extra = ctx.responseHeaders;
      if (!forwarded) {
        forwarded = true;
        this.d.hooks.forward.call(ctx, inst);
        // the body goes through a PassThrough: when the app fails mid-upload undici destroys the
        // stream it was given, and that must not be the client's request (which would close the
        // client's connection before it gets the 502). Piped in the same tick as the forward hook,
        // so a tap listening to the body (shadow) sees every chunk.
        if (body) r.body = req.pipe(new PassThrough());
      }
      cancel = this.forwarder.send(inst, res, r, { fresh, expect }, (err, started) => {
        cancel = undefined;
        if (err === null || left) return;
        if (started) { res.destroy(); return; } // the head is out: cut the body, the client sees it incomplete
        if (err instanceof TenementError) return this.fail(ctx, err);
        onError(inst, err, fresh, tries);
      });
    };

    const onError = (inst: Instance, err: AttemptError, fresh: boolean, tries: number) => {
      const kind = classify(err);
      this.d.log.debug({ instance: inst.key, kind, err: (err as Error).message, fresh, tries, path: ctx.path }, 'attempt failed');
      if (kind === 'timeout') return this.fail(ctx, new TenementError('TEN_ERR_ROUTE_UPSTREAM_TIMEOUT', [inst.key, r.headersTimeoutMs / 1000]));
      if (kind === 'refused') inst.ejectedUntil = Date.now() + EJECT_MS;
      // a pooled keep-alive connection the app had just closed: once more on a fresh one (RFC 9112 §9.3.1)
      if (kind === 'reset' && replayable && idempotent && !fresh) return send(inst, true, tries + 1);
      const again = replayable && tries < 3 && (kind === 'refused' || (kind === 'reset' && idempotent));
      if (!again) return this.failUpstream(ctx, inst, err, kind);
      // balanced: another instance; direct: the same one once its exit is seen (a scaler, if any,
      // then holds the request until the restarted process is ready)
      const next = target.instanceId === undefined ? this.d.router.pick(ctx, target, inst)
        : exited(inst, 250).then((isGone) => {
          if (!isGone) throw new TenementError('TEN_ERR_ROUTE_NO_INSTANCE', [inst.key]);
          return this.d.router.pick(ctx, target, inst);
        });
      next.then((n) => { if (!left) send(n, false, tries + 1); }, (e) => {
        if (left) return;
        // no other instance to try: report what happened to this one, not an empty service
        if (e instanceof TenementError && e.code === 'TEN_ERR_ROUTE_NO_INSTANCE') this.failUpstream(ctx, inst, err, kind);
        else this.fail(ctx, e);
      });
    };

    this.d.router.pick(ctx, target).then((inst) => { if (!left) send(inst, false, 0); }, (err) => { if (!left) this.fail(ctx, err); });
    return {
      cancel: () => {
        left = true;
        cancel?.(Object.assign(new Error('the client closed the connection'), { code: 'ECONNABORTED' }));
      },
    };
  }

  /** A WebSocket upgrade (RFC 6455 §4.1 over RFC 9110 §7.8): through http-proxy-3. */
  async upgrade(ctx: RequestContext, socket: Duplex, head: Buffer, target: ServiceTarget, client: ClientInfo): Promise<void> {
    let inst: Instance;
    try {
      inst = await this.d.router.pick(ctx, target);
    } catch (err) {
      return this.failUpgrade(socket, err);
    }
    const addr = instanceAddress(inst);
    if (addr === undefined) return this.failUpgrade(socket, new TenementError('TEN_ERR_ROUTE_NO_INSTANCE', [inst.key]));
    ctx.instance = inst;
    inst.inflight += 1;
    inst.lastRequestAt = Date.now();
    socket.once('close', () => {
      inst.inflight -= 1;
      inst.lastRequestAt = Date.now();
      this.d.hooks.requestDone.call(ctx, { instance: inst, status: 101, durationMs: performance.now() - ctx.start });
    });
    // http-proxy sends req.headers and req.url: make them what the forwarding rules give a plain
    // request (forward/headers.ts: hop-by-hop fields dropped, X-Forwarded-* / Forwarded / Via from
    // the connection, the routed Host), plus the upgrade's own Connection and Upgrade (RFC 9110
    // §7.8). The target is passed as is (toProxy, no prependPath: no parsing, no dot-segments).
    const upgradeTo = ctx.req.headers.upgrade;
    const out = requestHeaders(ctx.req.rawHeaders, client, routedHost(ctx, client));
    const h: Record<string, string> = {};
    for (let i = 0; i < out.length; i += 2) {
      const name = out[i].toLowerCase();
      h[name] = h[name] === undefined ? out[i + 1] : `${h[name]}${name === 'cookie' ? '; ' : ', '}${out[i + 1]}`;
    }
    if (upgradeTo !== undefined) {
      h.connection = 'upgrade';
      h.upgrade = upgradeTo;
    }
    ctx.req.headers = h;
    ctx.req.url = ctx.path;
    this.ws.ws(ctx.req, socket, head, {
      // http-proxy-3's target type wants host and port even beside a socketPath (which wins)
      target: { host: '127.0.0.1', port: addr.port ?? 80, ...httpTarget(addr) },
      toProxy: true, prependPath: false,
    }, (err: Error) => {
      this.d.log.warn({ instance: inst.key, err: err.message }, 'websocket proxy error');
      socket.destroy();
    });
  }

  /** Answer an upgrade the proxy could not forward, on the raw socket, the same way as fail(). */
  failUpgrade(socket: Duplex, err: unknown): void {
    const e = asTenementError(err, this.d.log);
    socket.end(rawError(e));
  }

  /** Answer a request the proxy could not forward: JSON {code, message, hint}, Retry-After on 503. */
  fail(ctx: RequestContext, err: unknown): void {
    const e = asTenementError(err, this.d.log);
    ctx.code = e.code;
    const res = ctx.res!;
    if (res.headersSent) { res.destroy(); return; }
    writeError(res, e, ctx.responseHeaders);
  }

  /** 502 for a connection that failed; waits briefly for the exit so the message can say what happened. */
  private failUpstream(ctx: RequestContext, inst: Instance, err: AttemptError, kind: Kind): void {
    const pid = inst.pid;
    void exited(inst, 100).then(() => {
      const exit = inst.pid !== pid && inst.lastExit ? `; the process ${describeExit(inst.lastExit)}` : '';
      const what = `${err.code ?? 'error'}: ${err.message}${exit}`;
      this.fail(ctx, new TenementError(kind === 'refused' ? 'TEN_ERR_ROUTE_UPSTREAM_UNREACHABLE' : 'TEN_ERR_ROUTE_UPSTREAM_FAILED', [inst.key, what]));
    });
  }

  close(): void {
    this.forwarder.close();
    this.ws.close();
  }
}

/** true once the instance's process is seen to be gone (state or pid change); false after `ms`. */
async function exited(inst: Instance, ms: number): Promise<boolean> {
  const pid = inst.pid;
  return waitUntil(() => inst.pid !== pid || inst.state !== 'running', { deadline: Date.now() + ms, firstDelayMs: 5, slowAfterMs: Infinity });
}

/** Retry-After (RFC 9110 §10.2.3) of a 503 or a 429 (RFC 6585 §4): the error's `retry_after`
 *  detail (whole seconds, at least 1) when it has one, else 1; undefined for other statuses. */
function retryAfter(e: TenementError): string | undefined {
  if (e.statusCode !== 503 && e.statusCode !== 429) return undefined;
  const s = e.details.retry_after;
  return typeof s === 'number' && Number.isFinite(s) ? String(Math.max(1, Math.ceil(s))) : '1';
}

/** The JSON error response tenement gives itself; 503s and 429s carry Retry-After. */
export function writeError(res: http.ServerResponse, e: TenementError, extra?: string[], close = false): void {
  const body = JSON.stringify(e.toJSON());
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))];
  const retry = retryAfter(e);
  if (retry !== undefined) headers.push('retry-after', retry);
  if (close) headers.push('connection', 'close');
  if (extra) headers.push(...extra);
  res.writeHead(e.statusCode, headers).end(body);
}

/** The same error as a whole raw HTTP/1.1 response, for sockets Node's server no longer owns. */
export function rawError(e: TenementError): string {
  const body = JSON.stringify(e.toJSON());
  return `HTTP/1.1 ${e.statusCode} ${http.STATUS_CODES[e.statusCode]}\r\nconnection: close\r\n` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `${retryAfter(e) !== undefined ? `retry-after: ${retryAfter(e)}\r\n` : ''}\r\n${body}`;
}

/** The Host to send instead of the client's: the target's authority of an absolute-form request. */
function routedHost(ctx: RequestContext, client: ClientInfo): string | undefined {
  return ctx.authority !== client.authority ? ctx.authority : undefined;
}

function asTenementError(err: unknown, log: Logger): TenementError {
  if (err instanceof TenementError) {
    if (err.statusCode >= 500 && err.code === 'TEN_ERR_PLUGIN_FAILED') log.error({ err }, 'plugin failed on a request');
    return err;
  }
  log.error({ err }, 'unexpected error while routing');
  return new TenementError('TEN_ERR_API_INTERNAL', [], {}, err);
}
