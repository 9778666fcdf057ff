// `ten serve`: wires store, registry, hooks, supervisor, health, router, proxy and plugins behind
// one listener (and its HTTPS twin with [settings.tls]), restores the desired state, and shuts all
// of it down in order.
import { chmodSync, mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { ensureToken } from './auth.ts';
import { loadConfig } from './config.ts';
import type { RouteEntry } from './access.ts';
import { formatApiAddress, listenApi, parseApiListen } from './api-listen.ts';
import { bridgeEvents } from './events.ts';
import { cgroupTag, releaseCgroups } from './cgroup.ts';
import { serviceOf } from './config-schema.ts';
import { TenementError } from './errors.ts';
import { HealthChecker } from './health.ts';
import { CORE_TAP, createHooks, type Hooks } from './hooks.ts';
import { createListener, type Listener } from './listener.ts';
import { LiveConfig } from './live-config.ts';
import { located, pluginFailed, preparePlugins, withTimeout, type Builtins, type CreatedPlugin } from './loader.ts';
import { lockDataDir } from './lock.ts';
import { Logbook } from './logbook.ts';
import { createLogger } from './logger.ts';
import type { PluginInstance } from './plugin.ts';
import { createPluginContext, type ContextDeps, type PluginRoutes } from './plugin-context.ts';
import { Proxy } from './proxy.ts';
import { Registry } from './registry.ts';
import { Reloader } from './reload.ts';
import { Router } from './router.ts';
import { Store } from './store.ts';
import { Supervisor } from './supervisor.ts';
import { readKeyPair } from './tls.ts';
import { certWarnings, servedNames } from './tls-names.ts';
import { CertWatcher } from './tls-watch.ts';
import { Tokens } from './tokens.ts';
import type { Containment } from './process.ts';
import type { ReloadReport, TenementConfig } from './types.ts';
import { VERSION } from './version.ts';
import { waitUntil } from './wait.ts';


export interface RunningServer {
  url: string;
  port: number;
  hooks: Hooks;
  registry: Registry;
  log: Logger;
  /** Re-read tenement.toml and apply what changed (core/reload.ts): `ten reload`, SIGHUP. */
  reload(source: string): Promise<ReloadReport>;
  /** Stop accepting, drain in-flight requests, stop every instance, close the store. With
   *  `keepApps`, the instances are left running for the next ten serve to adopt instead. */
  close(opts?: { keepApps?: boolean }): Promise<void>;
  /** A second signal during close(): cut the drain short and SIGKILL what has not stopped after
   *  `graceMs` (never leaves a process behind). */
  hurry(graceMs: number): void;
}

/** `opts.load` reads the config file again as the caller did (its path and overrides) for a reload;
 *  without it, a config read from a file is read again from that file, without overrides. */
export async function startServer(config: TenementConfig, builtins: Builtins, opts: { log?: Logger; load?: () => TenementConfig } = {}): Promise<RunningServer> {
  const { settings } = config; // what needs a restart of ten serve (config-diff.ts): read once here
  const log = opts.log ?? createLogger();
  // a config whose plugins cannot load fails here, before anything is created or started
  const plugins = await preparePlugins(config, builtins);
  try {
    mkdirSync(settings.data_dir, { recursive: true });
    chmodSync(settings.data_dir, 0o711); // apps pass through to their own folder; they cannot list it (docs/isolation.md)
  } catch (err) {
    throw new TenementError('TEN_ERR_STORE_OPEN_FAILED', [settings.data_dir, (err as Error).message], {}, err);
  }
  const lock = lockDataDir(settings.data_dir); // one ten serve per data_dir, before anything is read
  let store: Store;
  try {
    store = new Store(settings.data_dir);
  } catch (err) {
    lock.release();
    throw err;
  }
  // the config in force: components read it at call time through their deps' `config` (live-config.ts)
  const live = new LiveConfig(config);
  const hooks = createHooks(log);
  const logbook = new Logbook({
    dataDir: settings.data_dir, maxBytes: settings.log_max_size, maxAgeMs: settings.log_max_age * 1000, ringLines: settings.log_ring_size, log,
  });
  // the event stream is a stream of the logs, beside the apps' stdout and stderr
  hooks.event.tap(CORE_TAP, (e) => logbook.append({
    t: e.at, stream: 'event', service: e.service, instance: e.instance ?? '', pid: null, message: `${e.kind}: ${e.message}`,
  }));
  const registry = new Registry(hooks, store);
  const health = new HealthChecker(live.deps({ registry, hooks, log, onUnhealthy: (i, why) => supervisor.onUnhealthy(i, why) }));
  const output = { get lineMax() { return live.current.settings.log_line_max; }, sink: logbook.sink.bind(logbook), failed: logbook.captureFailed.bind(logbook) };
  const supervisor = new Supervisor(live.deps({ registry, hooks, log, probe: (i) => health.probe(i), output, runs: store }));
  logContainment(config, supervisor.containment, log);
  const router = new Router(live.deps({ registry, hooks }));
  const proxy = new Proxy(live.deps({ hooks, router, log }));
  const load = opts.load ?? (config.path === undefined ? undefined : () => loadConfig({ path: config.path }));
  const reloader = new Reloader({
    live, builtins, load, registry, supervisor, store, hooks, log,
    applySettings: (s) => logbook.setLimits({ maxBytes: s.log_max_size, maxAgeMs: s.log_max_age * 1000, ringLines: s.log_ring_size }),
  });
  hooks.transition.tap(CORE_TAP, ({ instance, from, to, reason }) =>
    log.debug({ instance: instance.key, from, to, reason }, 'transition'));
  bridgeEvents(hooks);
  const applied: PluginInstance[] = [];
  let listener: Listener | undefined;
  let unlinkApi: (() => void) | undefined;
  let certs: CertWatcher | undefined;
  let closing: Promise<void> | undefined;
  let hurried = false;
  /** `failedStart`: undoing a start that failed, quietly (its error is what the user sees; issue 13
   *  found "draining requests" and "stopped" around the error of a server that never listened) */
  const close = (opts: { keepApps?: boolean; failedStart?: boolean } = {}) => closing ??= (async () => {
    const say = (msg: string) => { if (!opts.failedStart) log.info(msg); };
    say(listener?.server.listening ? 'shutting down: draining requests' : 'shutting down');
    reloader.close();
    certs?.close();
    if (listener) {
      listener.server.close();
      listener.api?.close();
      listener.tls?.close();
      const deadline = Date.now() + live.current.settings.drain_timeout * 1000;
      await waitUntil(() => hurried || listener!.inflight() === 0, { deadline, firstDelayMs: 20, slowAfterMs: 0 });
      listener.server.closeAllConnections();
      listener.api?.closeAllConnections();
      listener.tls?.closeAllConnections();
      listener.close();
      unlinkApi?.();
    }
    health.close();
    await hooks.shutdown.promise().catch((err) => log.error({ err }, 'shutdown hook failed'));
    if (opts.keepApps) {
      const n = supervisor.detachAll();
      log.info({ instances: n }, `left ${n} instance(s) running for the next ten serve to adopt (--keep-apps)`);
    } else await supervisor.stopAll('ten serve shutting down');
    for (const p of applied.reverse()) await Promise.resolve().then(() => p.dispose?.()).catch((err) => log.error({ err }, 'plugin dispose failed'));
    proxy.close();
    if (!opts.keepApps) releaseCgroups(cgroupTag(settings.data_dir));
    await listener?.app.close().catch(() => undefined);
    await logbook.close().catch((err) => log.error({ err }, 'closing the logs failed'));
    store.close();
    lock.release();
    say('stopped');
  })();

  try {
    const tokens = new Tokens(store);
    ensureToken(settings.data_dir, tokens);
    const routes: PluginRoutes = { list: [], mounted: false };
    await applyPlugins(plugins, applied, live.deps({
      hooks, registry, control: supervisor, log, routes, store: (name: string) => store.pluginStore(name),
    }));
    // the desired state before the first request can arrive (one may create an instance:
    // spawn_on_request)
    restoreInstances(config, store, registry, log);
    const reload = (source: string) => reloader.reload(source);
    // [settings.tls]: the pair was checked with the config; read again for what is on disk now
    const keyPair = settings.tls ? readKeyPair(settings.tls.cert, settings.tls.key) : undefined;
    if (keyPair instanceof TenementError) throw keyPair;
    listener = await createListener({ settings, hooks, router, proxy, routes, keyPair, api: live.deps({
      registry, supervisor, health, store, log, version: VERSION, logbook, reload, tokens, routes: [] as RouteEntry[],
    }) });
    const server = listener.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new TenementError('TEN_ERR_SERVE_LISTEN_FAILED', ['--port / [settings] port', `${settings.listen}:${settings.port}`, err.message])));
      server.listen(settings.port, settings.listen, resolve);
    });
    const port = (server.address() as { port: number }).port;
    const host = settings.listen.includes(':') ? `[${settings.listen}]` : settings.listen;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    let https: string | undefined;
    if (listener.tls && settings.tls && keyPair) {
      const tls = listener.tls;
      const where = `${settings.listen}:${settings.tls.port}`;
      await new Promise<void>((resolve, reject) => {
        tls.once('error', (err) => reject(new TenementError('TEN_ERR_SERVE_LISTEN_FAILED', ['[settings.tls] port', where, err.message])));
        tls.listen(settings.tls!.port, settings.listen, resolve);
      });
      https = `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${(tls.address() as { port: number }).port}`;
      const { cert, key, redirect } = settings.tls;
      const served = () => servedNames(live.current.settings.domain, Object.keys(live.current.services));
      certs = new CertWatcher({ cert, key, current: keyPair, served, hooks, log, apply: (p) => tls.setSecureContext({ cert: p.cert, key: p.key }) });
      log.info({ https, redirect, cert, serial: keyPair.serial, not_after: keyPair.notAfter, names: keyPair.names }, `tls: certificate serial ${keyPair.serial}, valid until ${keyPair.notAfter}`);
      // accepted all the same (refusing would keep HTTPS down), said with their code
      for (const w of certWarnings(keyPair, cert, served(), Date.now())) log.warn({ code: w.code, cert, ...w.details }, `tls: ${w.message}: ${w.hint}`);
    }
    // api_listen was checked with the config: parsed again here for its parts
    const apiAddress = settings.api_listen === undefined ? undefined : parseApiListen(settings.api_listen, config.dir);
    if (listener.api && typeof apiAddress === 'object') unlinkApi = await listenApi(listener.api, apiAddress);
    const api = typeof apiAddress === 'object' ? formatApiAddress(apiAddress) : `the ${settings.domain} host`;
    log.info({ url, ...(https ? { https } : {}), domain: settings.domain, data_dir: settings.data_dir, api }, 'tenement listening');
    const { adopted, ended } = await supervisor.adoptAll();
    if (adopted.length > 0) log.info({ instances: adopted }, `adopted ${adopted.length} instance(s) a previous ten serve left running`);
    if (ended.length > 0) log.warn({ instances: ended }, `ended ${ended.length} process(es) a previous ten serve left running that could not be adopted`);
    const left = await supervisor.sweepLeftovers();
    if (left.length > 0) log.warn({ cgroups: left }, `ended what a previous ten serve left running in ${left.length} instance cgroup(s) of this data_dir`);
    for (const inst of registry.list()) {
      if (inst.state !== 'stopped') continue; // asleep (idle), or adopted (starting)
      supervisor.start(inst, 'boot').catch((err) => log.error({ err, instance: inst.key }, 'boot start failed'));
    }
    await hooks.ready.promise();
    const hurry = (graceMs: number) => {
      hurried = true;
      supervisor.hurry(graceMs);
    };
    return { url, port, hooks, registry, log, reload, close, hurry };
  } catch (err) {
    await close({ failedStart: true }).catch(() => undefined);
    throw err;
  }
}

/** apply() each created plugin in load order, with its own narrowed context. */
async function applyPlugins(plugins: CreatedPlugin[], applied: PluginInstance[], deps: ContextDeps): Promise<void> {
  for (const p of plugins) {
    const ctx = createPluginContext(p.def.name, deps);
    await located(deps.config as TenementConfig, p.entry, () => withTimeout(Promise.resolve().then(() => p.instance.apply(ctx)), p.def.name)
      .catch((err) => { throw pluginFailed(p.def.name, 'apply()', err); }));
    applied.push(p.instance);
    deps.log.debug({ plugin: p.def.name, slot: p.slot }, 'plugin loaded');
  }
  if (!plugins.some((p) => p.slot === 'isolation')) deps.log.warn('the isolation slot is off: services\' isolation levels are not applied (instances still run under tenement-init, in their own cgroup where the host has one)');
}

/** Say once how instances are contained here, and which services' apps run as `nobody` because
 *  ten serve is root and they name no user (never as root silently: docs/isolation.md). */
function logContainment(config: TenementConfig, c: Containment, log: Logger): void {
  const m = c.cgroups.membership;
  const controllers = Object.entries(c.cgroups.controllers).map(([name, h]) => `${name} (v${h.v2 ? 2 : 1})`).join(', ') || 'none';
  if (m) log.info({ cgroup: m.dir, controllers }, `containment: tenement-init and a cgroup per instance (cgroup v${m.v2 ? 2 : 1}; controllers: ${controllers})`);
  else log.warn({ why: c.cgroups.missing }, 'containment: tenement-init only (subreaper); no cgroup is usable here, so memory_limit_mb, cpu_limit and pids_limit cannot be applied (ten doctor says why)');
  if (!c.root) return;
  const nobody = Object.values(config.services).filter((s) => s.user === undefined && config.settings.user === undefined).map((s) => s.name);
  if (nobody.length > 0) log.warn({ services: nobody }, `ten serve runs as root and ${nobody.join(', ')} set${nobody.length === 1 ? 's' : ''} no user: ${nobody.length === 1 ? 'its apps run' : 'their apps run'} as nobody (set user in [settings] or the service)`);
}

/** The desired state: stored instances, then [instances] from the config that are not stored.
 *  All start at boot, except those a spawn_on_request service created, which come back idle. */
function restoreInstances(config: TenementConfig, store: Store, registry: Registry, log: Logger): void {
  for (const s of store.listInstances()) {
    if (!serviceOf(config, s.service)) {
      log.warn({ instance: `${s.service}:${s.id}` }, 'stored instance of a service no longer in the config: skipped');
      continue;
    }
    const inst = registry.create(s.service, s.id, s.weight, false);
    // instances created by requests come back asleep: their next request wakes them
    if (config.services[s.service].spawn_on_request && !config.instances[s.service]?.includes(s.id)) {
      registry.transition(inst, 'idle', 'restored asleep (spawn_on_request)');
    }
  }
  for (const [service, ids] of Object.entries(config.instances)) {
    for (const id of ids) if (!registry.get(service, id)) registry.create(service, id, config.services[service].weight);
  }
}
