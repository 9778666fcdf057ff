// The one public listener. Every request is checked before anything routes it (Host, target
// length; Node's parser answers the rest through clientError), then resolved by the router:
// service hosts go straight to the proxy, management hosts to fastify (its serverFactory), so
// only management traffic pays for fastify. Client-side bounds live in connections.ts. With
// [settings] api_listen, a second server with the same bounds takes the management API (every
// request to fastify, whatever its Host), and the {domain} host keeps only GET /health: the rest
// is 404 TEN_ERR_API_ELSEWHERE (docs/access.md#api_listen). With [settings.tls], an HTTPS server
// with the same bounds serves the same requests (HTTP/1.1, WebSockets too; its certificate is
// replaced on renewal: tls-watch.ts), and the plain one redirects to it (tls.ts httpsRedirect).
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { apiBase, managementApi, placeholderPage, type ApiDeps } from './api.ts';
import { logsApi } from './logs-api.ts';
import { tokensApi } from './tokens-api.ts';
import { answerClientError, AUTHORITY, BodyWatch, Conn, requestAuthority, transferCodings, type Live } from './connections.ts';
import { TenementError } from './errors.ts';
import { trustList, type ClientInfo } from './forward/index.ts';
import { hasBody } from './forward/rules.ts';
import type { Hooks } from './hooks.ts';
import { API_HEADER } from './view.ts';
import { pluginFailed } from './loader.ts';
import type { PluginRoutes } from './plugin-context.ts';
import { rawError, writeError, type Proxy } from './proxy.ts';
import { hostName, parseHost, type Router } from './router.ts';
import { httpsRedirect, type KeyPair } from './tls.ts';
import type { RequestContext, Settings, Target } from './types.ts';

/** Characters a path parameter of the management API may have (fastify's default, 100, made explicit). */
const MAX_PARAM_LENGTH = 100;

export interface Listener {
  server: http.Server;
  /** The management API's own server, with [settings] api_listen (not listening yet). */
  api?: http.Server;
  /** The HTTPS server, with [settings.tls] (not listening yet). */
  tls?: https.Server;
  app: FastifyInstance;
  /** Requests being answered right now (proxied or management). */
  inflight(): number;
  close(): void;
}

/** The Host header of a request already checked by requestAuthority(). */
function hostHeader(req: http.IncomingMessage): string {
  const a = requestAuthority(req);
  return typeof a === 'string' ? a : '';
}

/** Which server a request came to: the public one (plain HTTP), api_listen's, or the HTTPS one. */
type Side = 'plain' | 'api' | 'tls';

/** `keyPair`: the certificate to start the HTTPS server with, when settings.tls is set. */
export async function createListener(d: {
  settings: Settings; hooks: Hooks; router: Router; proxy: Proxy; api: ApiDeps; routes: PluginRoutes; keyPair?: KeyPair;
}): Promise<Listener> {
  const { settings, router, proxy } = d;
  const separate = settings.api_listen !== undefined;
  const trusted = trustList(settings.trusted_proxies);
  const bodies = new BodyWatch(settings.client_body_timeout * 1000);
  let inflight = 0;
  let proxied = 0;
  let fastifyHandler!: http.RequestListener;

  /** A server with the client bounds of [settings], for one side. */
  const bounded = (side: Side) => {
    const api = side === 'api';
    const options: http.ServerOptions = {
      maxHeaderSize: settings.max_header_size,
      // a missing Host is answered by requestAuthority() with a JSON 400 like every other bad Host
      requireHostHeader: false,
      headersTimeout: settings.client_header_timeout * 1000,
      // the body is bounded by its idle time (BodyWatch), not by a total: long uploads are fine
      requestTimeout: 0,
      keepAliveTimeout: settings.keepalive_timeout * 1000,
      connectionsCheckingInterval: Math.min(1000, settings.client_header_timeout * 500),
    };
    // the TLS handshake is part of the head a client must send in time; ALPN offers HTTP/1.1 only
    // (no h2: docs/deployment.md#http2)
    const srv = side === 'tls' ? https.createServer({ ...options, cert: d.keyPair!.cert, key: d.keyPair!.key,
      handshakeTimeout: settings.client_header_timeout * 1000, ALPNProtocols: ['http/1.1'] }) : http.createServer(options);
    // the head's size is bounded by max_header_size; a count limit would drop lines silently
    srv.maxHeadersCount = 0;
    // a Conn per connection as requests see it (req.socket): on HTTPS, the TLS socket
    srv.on(side === 'tls' ? 'secureConnection' : 'connection', (socket: Socket) => new Conn(socket, settings.max_pipelined));
    srv.on('request', (req, res) => onRequest(req, res, false, side));
    // Expect: 100-continue goes to the app, which decides (RFC 9110 §10.1.1): Node must not answer it
    srv.on('checkContinue', (req, res) => onRequest(req, res, true, side));
    srv.on('upgrade', api ? (_req: http.IncomingMessage, socket: Duplex) => void socket.end(rawError(new TenementError('TEN_ERR_API_NOT_FOUND', ['GET', 'a WebSocket']))) : (req, socket, head) => onUpgrade(req, socket, head, side));
    // CONNECT asks for a tunnel: a forward proxy's job, not a reverse proxy's (RFC 9110 §9.3.6)
    srv.on('connect', (_req, socket: Duplex) => socket.end(rawError(new TenementError('TEN_ERR_HTTP_METHOD_NOT_ALLOWED', ['CONNECT']))));
    srv.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket, { headerTimeout: settings.client_header_timeout, maxHeaderSize: settings.max_header_size }));
    return srv;
  };

  /** The connection's side of the forwarding rules. `authority` is the Host header as sent: for an
   *  absolute-form request the proxy replaces it with the target's (ctx.authority). */
  const client = (req: http.IncomingMessage, c: RequestContext): ClientInfo => ({
    peer: req.socket.remoteAddress ?? '', trusted: trusted(req.socket.remoteAddress),
    authority: c.path === req.url ? c.authority : hostHeader(req),
    port: req.socket.localPort ?? settings.port, forwarded: settings.forwarded, httpVersion: req.httpVersion,
    proto: (req.socket as Socket & { encrypted?: boolean }).encrypted ? 'https' : 'http',
    maxForwards: req.method === 'TRACE' || req.method === 'OPTIONS',
  });

  /** Checks every request shares; the context, or the error to answer with. */
  const context = (req: http.IncomingMessage, res: http.ServerResponse | undefined): RequestContext | TenementError => {
    const url = req.url ?? '/';
    if (url.length > settings.max_uri_length) return new TenementError('TEN_ERR_HTTP_URI_TOO_LONG', [settings.max_uri_length]);
    const codings = transferCodings(req.rawHeaders);
    if (codings !== undefined && codings !== 'chunked') return new TenementError('TEN_ERR_HTTP_NOT_IMPLEMENTED', [JSON.stringify(codings)]);
    let authority = requestAuthority(req);
    if (authority instanceof TenementError) return authority;
    let path = url;
    // absolute-form (RFC 9112 §3.2.2): the target's authority wins over Host; the app gets origin-form
    if (url === '*' && req.method !== 'OPTIONS') return new TenementError('TEN_ERR_HTTP_BAD_REQUEST', ['the target * is for OPTIONS only']);
    if (url.charCodeAt(0) !== 47 /* / */ && url !== '*') {
      const m = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(url);
      // no userinfo, a valid host[:port] (RFC 9110 §4.2.4, RFC 3986 §3.2.2–3)
      if (!m || !AUTHORITY.test(m[1]) || m[1] === '') return new TenementError('TEN_ERR_HTTP_BAD_REQUEST', [`invalid request target ${JSON.stringify(url.slice(0, 100))}`]);
      authority = m[1];
      path = m[2] === '' ? '/' : m[2].startsWith('/') ? m[2] : `/${m[2]}`;
    }
    return { req, res, host: hostName(authority), authority, path, upgrade: !res, start: performance.now() };
  };

  /** With [settings.tls] redirect: where a request to the plain listener goes instead (tls.ts). */
  const redirect = (side: Side, c: RequestContext) => (side === 'plain' && settings.tls?.redirect ? httpsRedirect(c, {
    domain: settings.domain, port: (tlsServer?.address() as AddressInfo | null)?.port ?? settings.tls.port, management: parseHost(c.host, settings.domain).kind === 'management',
  }) : undefined);

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse, expect: boolean, side: Side) => {
    const conn = Conn.of(req.socket);
    if (!conn) return void res.destroy();
    conn.admit(() => start(conn, req, res, expect, side));
  };

  const start = (conn: Conn, req: http.IncomingMessage, res: http.ServerResponse, expect: boolean, side: Side) => {
    const api = side === 'api';
    inflight += 1;
    let ctx: RequestContext | undefined;
    let exchange: { cancel(): void } | undefined;
    let ended = false;
    const live: Live = {
      end: (aborted) => {
        if (ended) return;
        ended = true;
        inflight -= 1;
        bodies.delete(live.body);
        conn.untrack(live);
        if (exchange) {
          proxied -= 1;
          if (aborted) exchange.cancel();
          const status = !aborted && res.writableFinished ? res.statusCode : 499; // 499: the client left first (nginx's figure)
          d.hooks.requestDone.call(ctx!, { instance: ctx!.instance, status, durationMs: performance.now() - ctx!.start, code: ctx!.code });
        }
      },
    };
    conn.track(live);
    res.once('finish', () => live.end(false));
    res.once('prefinish', () => { if (!req.complete) conn.unread = true; });
    res.once('close', () => live.end(!res.writableFinished));
    const c = context(req, res);
    if (c instanceof TenementError) return writeError(res, c, undefined, true);
    ctx = c;
    const away = redirect(side, c);
    if (away) return void res.writeHead(away.status, ['location', away.location, 'content-length', '0']).end();
    const route = (target: Target) => {
      if (target.kind === 'management') {
        // with api_listen, the public listener keeps /health (a load balancer's liveness check) only
        if (separate && !api && (c.path.split('?')[0] !== '/health' || (req.method !== 'GET' && req.method !== 'HEAD'))) {
          return writeError(res, new TenementError('TEN_ERR_API_ELSEWHERE'));
        }
        if (expect) res.writeContinue(); // fastify reads the body itself
        return fastifyHandler(req, res);
      }
      if (proxied >= settings.max_requests) return writeError(res, new TenementError('TEN_ERR_ROUTE_OVERLOADED', [settings.max_requests]));
      proxied += 1;
      const body = hasBody(req.rawHeaders); // (a GET is not complete yet when it is routed, but has no body to wait for)
      if (body) {
        live.body = { req, bytes: req.socket.bytesRead, since: Date.now(), timeout: () => {
          if (res.headersSent) return void res.destroy();
          exchange?.cancel();
          writeError(res, new TenementError('TEN_ERR_HTTP_REQUEST_TIMEOUT', [`the request body was idle for client_body_timeout = ${settings.client_body_timeout} s`]), undefined, true);
        } };
        bodies.add(live.body);
      }
      exchange = proxy.web(c, target, client(req, c), { expect, body });
    };
    if (api) return route(c.target = { kind: 'management' });
    let t: Target | Promise<Target>;
    try {
      t = router.resolve(c);
    } catch (err) {
      return proxy.fail(c, err);
    }
    if (t instanceof Promise) t.then(route, (err) => proxy.fail(c, err));
    else route(t);
  };

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer, side: Side) => {
    const c = context(req, undefined);
    if (c instanceof TenementError) return void socket.end(rawError(c));
    const away = redirect(side, c);
    if (away) return void socket.end(`HTTP/1.1 ${away.status} ${http.STATUS_CODES[away.status]}\r\nlocation: ${away.location}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    Promise.resolve(router.resolve(c)).then((target) => {
      // the management API speaks no WebSocket
      if (target.kind === 'management') return void socket.end(rawError(new TenementError('TEN_ERR_API_NOT_FOUND', ['GET', c.path])));
      return proxy.upgrade(c, socket, head, target, client(req, c));
    }, (err) => proxy.failUpgrade(socket, err));
  };

  const server = bounded('plain');
  const apiServer = separate ? bounded('api') : undefined;
  const tlsServer = settings.tls && d.keyPair ? bounded('tls') as https.Server : undefined;
  const app = Fastify({
    logger: false,
    serverFactory: (h) => { fastifyHandler = h; return server; },
    bodyLimit: 1024 * 1024,
    // URLs fastify's router refuses before any hook runs (a broken %-escape, an overlong path
    // parameter): answered in tenement's form, with the API header, never echoing the URL
    frameworkErrors: (err, _req, reply) => {
      const e = err.statusCode === 414 ? new TenementError('TEN_ERR_HTTP_URI_TOO_LONG', [MAX_PARAM_LENGTH])
        : new TenementError('TEN_ERR_API_BAD_REQUEST', [err.code === 'FST_ERR_BAD_URL' ? 'the URL has an invalid %-escape' : 'the URL cannot be routed']);
      void (reply as unknown as FastifyReply).code(e.statusCode).header(API_HEADER, d.api.version).send(e.toJSON());
    },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH }, // (top-level maxParamLength is deprecated: FSTDEP022)
  });
  // every route of the management host, the core's and the plugins', logged once at debug level
  // ('management routes'): what is reachable, and the list the input fuzz test covers
  const routes: string[] = [];
  app.addHook('onRoute', (r) => { for (const m of [r.method].flat()) routes.push(`${m} ${r.url}`); });
  await app.register(apiBase, d.api);
  await app.register(managementApi(d.api));
  await app.register(logsApi(d.api));
  await app.register(tokensApi(d.api));
  for (const r of d.routes.list) {
    // a plugin's routes that clash or throw fail startup naming that plugin
    try {
      await app.register(async (scope) => {
        // { public: true }: every route of it is `access: 'public'`; the others say their own
        // `access` or are admin-only (access.ts)
        if (r.public) scope.addHook('onRoute', (route) => { route.config = { ...(route.config as object), access: 'public' }; });
        await scope.register(r.fn);
      });
    } catch (err) {
      throw pluginFailed(r.plugin, 'http.register()', err);
    }
  }
  // the page at `/` when no plugin (the dashboard slot) serves one
  if (!app.hasRoute({ method: 'GET', url: '/' })) app.get('/', { config: { access: 'public' } }, async (_req, reply) => reply.type('text/html').send(placeholderPage(d.api.version)));
  d.routes.mounted = true;
  await app.ready();
  d.api.log.debug({ routes }, 'management routes');
  return { server, api: apiServer, tls: tlsServer, app, inflight: () => inflight, close: () => bodies.close() };
}
