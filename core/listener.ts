// The one public listener: every request and upgrade is resolved through hooks.resolveTarget;
// service hosts go straight to the proxy, management hosts to fastify (its serverFactory), so
// only management traffic pays for fastify.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { installApiBase, managementApi, type ApiDeps } from './api.ts';
import type { Hooks } from './hooks.ts';
import type { Proxy } from './proxy.ts';
import { hostName } from './router.ts';
import type { RequestContext } from './types.ts';

export interface Listener {
  server: http.Server;
  app: FastifyInstance;
  /** Requests being answered right now (proxied or management). */
  inflight(): number;
}

export async function createListener(d: { hooks: Hooks; proxy: Proxy; api: ApiDeps; routes: FastifyPluginAsync[] }): Promise<Listener> {
  const { hooks, proxy } = d;
  let inflight = 0;
  let fastifyHandler!: http.RequestListener;
  const reject = (socket: Duplex, status: number) => socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse | undefined, socket?: Duplex, head?: Buffer) => {
    const ctx: RequestContext = { req, res, host: hostName(req.headers.host), upgrade: !res, start: performance.now() };
    try {
      ctx.target = await hooks.resolveTarget.promise(ctx);
    } catch (err) {
      return res ? proxy.fail(res, err) : proxy.failUpgrade(socket!, err);
    }
    const target = ctx.target;
    if (!target || target.kind === 'management') {
      // the management API speaks no WebSocket
      return res ? fastifyHandler(req, res) : reject(socket!, 404);
    }
    return res ? proxy.web(ctx, target) : proxy.ws(ctx, socket!, head!, target);
  };

  const server = http.createServer((req, res) => {
    inflight += 1;
    res.once('close', () => { inflight -= 1; });
    void handle(req, res);
  });
  server.on('upgrade', (req, socket, head) => void handle(req, undefined, socket, head));
  server.on('clientError', (_err, socket) => socket.destroy());

  const app = Fastify({
    logger: false,
    serverFactory: (h) => { fastifyHandler = h; return server; },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    bodyLimit: 1024 * 1024,
  });
  installApiBase(app, d.api);
  await app.register(managementApi(d.api));
  for (const r of d.routes) await app.register(r);
  await app.ready();
  return { server, app, inflight: () => inflight };
}
