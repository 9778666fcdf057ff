// `ten serve`: wires store, registry, hooks, supervisor, health, router, proxy and plugins behind
// one http.Server. Service hosts go straight to the proxy; only management traffic pays for fastify.
import http from 'node:http';
import { mkdirSync, readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { installApiBase, managementApi } from './api.ts';
import { ensureToken } from './auth.ts';
import { TenementError } from './errors.ts';
import { HealthChecker } from './health.ts';
import { createHooks, type Hooks } from './hooks.ts';
import { resolvePlugins, withTimeout, type Builtins } from './loader.ts';
import { createLogger } from './logger.ts';
import { Proxy } from './proxy.ts';
import { Registry } from './registry.ts';
import { hostName, Router } from './router.ts';
import { Store } from './store.ts';
import { Supervisor } from './supervisor.ts';
import type { PluginContext, PluginInstance } from './plugin.ts';
import type { RequestContext, TenementConfig } from './types.ts';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export interface RunningServer {
  url: string;
  port: number;
  hooks: Hooks;
  registry: Registry;
  log: Logger;
  /** Stop accepting, drain in-flight requests, stop every instance, close the store. */
  close(): Promise<void>;
}

export async function startServer(config: TenementConfig, builtins: Builtins, opts: { log?: Logger } = {}): Promise<RunningServer> {
  const { settings } = config;
  const log = opts.log ?? createLogger();
  mkdirSync(settings.data_dir, { recursive: true });
  const store = new Store(settings.data_dir);
  ensureToken(settings.data_dir, store);
  const hooks = createHooks(log);
  const registry = new Registry(hooks, store);
  const health = new HealthChecker({ config, registry, hooks, log, onUnhealthy: (i, why) => supervisor.onUnhealthy(i, why) });
  const supervisor = new Supervisor({ config, registry, hooks, log, probe: (i) => health.probe(i) });
  const router = new Router({ config, registry, hooks });
  const proxy = new Proxy({ config, hooks, router, log });
  hooks.transition.tap('tenement', ({ instance, from, to, reason }) =>
    log.debug({ instance: instance.key, from, to, reason }, 'transition'));

  // plugins
  const routes: FastifyPluginAsync[] = [];
  const applied: PluginInstance[] = [];
  const isolationLevels = new Set<string>();
  for (const p of await resolvePlugins(config, builtins)) {
    const ctx: PluginContext = {
      hooks, registry, config, dir: config.dir, log: log.child({ plugin: p.def.name }),
      http: { register: (fn) => routes.push(fn) },
    };
    const instance = p.def.create(p.options);
    await withTimeout(Promise.resolve(instance.apply(ctx)), p.def.name);
    applied.push(instance);
    if (p.def.isolationLevel) isolationLevels.add(p.def.isolationLevel);
    log.debug({ plugin: p.def.name, slot: p.slot }, 'plugin loaded');
  }
  for (const svc of Object.values(config.services)) {
    if (!isolationLevels.has(svc.isolation)) {
      throw new TenementError('TEN_ERR_CONFIG_INVALID_VALUE', [`service.${svc.name}.isolation`,
        `is "${svc.isolation}", but the loaded isolation plugin serves ${[...isolationLevels].map((l) => `"${l}"`).join(', ') || 'no level'}`],
      { key: `service.${svc.name}.isolation` });
    }
  }

  // listener: fastify only sees management hosts
  let inflight = 0;
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse | undefined, socket?: Duplex, head?: Buffer) => {
    const ctx: RequestContext = { req, res, host: hostName(req.headers.host), upgrade: !res, start: performance.now() };
    let target;
    try {
      target = await hooks.resolveTarget.promise(ctx);
    } catch (err) {
      if (res) return proxy.fail(res, err);
      return socket!.destroy();
    }
    ctx.target = target;
    if (!target || target.kind === 'management') {
      if (res) return fastifyHandler(req, res);
      return socket!.destroy();
    }
    if (res) return proxy.web(ctx, target);
    return proxy.ws(ctx, socket!, head!, target);
  };
  let fastifyHandler!: http.RequestListener;
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
  const apiDeps = { config, registry, supervisor, health, store, log, version: VERSION };
  installApiBase(app, apiDeps);
  await app.register(managementApi(apiDeps));
  for (const r of routes) await app.register(r);
  await app.ready();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TenementError('TEN_ERR_SERVE_LISTEN_FAILED', [`${settings.listen}:${settings.port}`, err.message])));
    server.listen(settings.port, settings.listen, resolve);
  });
  const port = (server.address() as { port: number }).port;
  const host = settings.listen.includes(':') ? `[${settings.listen}]` : settings.listen;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  log.info({ url, domain: settings.domain, data_dir: settings.data_dir }, 'tenement listening');

  // bring back the desired state: stored instances, then [instances] from the config
  for (const s of store.listInstances()) {
    if (config.services[s.service]) registry.create(s.service, s.id, s.weight, false);
    else log.warn({ instance: `${s.service}:${s.id}` }, 'stored instance of a service no longer in the config: skipped');
  }
  for (const [service, ids] of Object.entries(config.instances)) {
    for (const id of ids) if (!registry.get(service, id)) registry.create(service, id, config.services[service].weight);
  }
  for (const inst of registry.list()) {
    supervisor.start(inst, 'boot').catch((err) => log.error({ err, instance: inst.key }, 'boot start failed'));
  }
  await hooks.ready.promise();

  let closing: Promise<void> | undefined;
  const close = () => closing ??= (async () => {
    log.info('shutting down: draining requests');
    server.close();
    const deadline = Date.now() + settings.drain_timeout * 1000;
    while (inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    server.closeAllConnections();
    health.close();
    await hooks.shutdown.promise().catch((err) => log.error({ err }, 'shutdown hook failed'));
    await supervisor.stopAll('ten serve shutting down');
    for (const p of applied.reverse()) await Promise.resolve(p.dispose?.()).catch((err) => log.error({ err }, 'plugin dispose failed'));
    proxy.close();
    await app.close().catch(() => undefined);
    store.close();
    log.info('stopped');
  })();
  return { url, port, hooks, registry, log, close };
}
