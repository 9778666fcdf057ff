// Shared data shapes of the core. Plain data only: behaviour lives in the modules that own it.
import type { IncomingMessage, ServerResponse } from 'node:http';

// ---------------------------------------------------------------- config

export type RestartPolicy = 'always' | 'on-failure' | 'never';

export interface Settings {
  domain: string;
  /** Address the public listener binds to. */
  listen: string;
  port: number;
  /** Absolute path (resolved against the config file's folder). */
  data_dir: string;
  /** Seconds between health probes of one instance. */
  health_interval: number;
  /** Seconds a single probe may take. */
  health_timeout: number;
  /** Consecutive failed probes before running → unhealthy. */
  unhealthy_threshold: number;
  /** Consecutive passed probes before unhealthy → running. */
  healthy_threshold: number;
  /** Restarts allowed within restart_window before the instance is failed. */
  max_restarts: number;
  /** Seconds: the sliding window max_restarts counts in. */
  restart_window: number;
  /** Seconds: first restart delay; doubles per restart up to backoff_max. */
  backoff_base: number;
  backoff_max: number;
  /** Seconds ten serve waits for in-flight requests on shutdown. */
  drain_timeout: number;
  /** CIDRs whose X-Forwarded-* / Forwarded headers are extended instead of replaced. */
  trusted_proxies: string[];
  /** Also send the standard `Forwarded` header (RFC 7239). */
  forwarded: boolean;
  /** Seconds a client has to send a whole request head (then 408). */
  client_header_timeout: number;
  /** Seconds a client's request body may stay idle (then 408, or the connection is closed). */
  client_body_timeout: number;
  /** Seconds an idle client keep-alive connection is kept open. */
  keepalive_timeout: number;
  /** Unanswered requests per client connection before its socket is paused. */
  max_pipelined: number;
  /** Proxied requests in flight across all clients before new ones get 503. */
  max_requests: number;
  /** Bytes of request line + headers before 431. */
  max_header_size: number;
  /** Bytes of request target before 414. */
  max_uri_length: number;
  /** Logs retention: bytes of {data_dir}/logs.db in use, at most (the oldest lines go first). */
  log_max_size: number;
  /** Logs retention: seconds a line is kept, at most. */
  log_max_age: number;
  /** Lines of each instance kept in memory (the fast tail of `ten logs`). */
  log_ring_size: number;
  /** Bytes of one line of output, at most: a longer line is split into lines of this size. */
  log_line_max: number;
  /** Default user (name or uid) apps run as, when ten serve runs as root; a service's `user` wins.
   *  Unset, as root: `nobody` (docs/isolation.md). */
  user?: string;
  /** Default primary group (name or gid); unset: the user's own. */
  group?: string;
  /** Where the management API and the dashboard listen instead of the {domain} host: a loopback
   *  "127.0.0.1:PORT" / "[::1]:PORT", or "unix:PATH" (absolute once loaded) for a Unix socket (0600).
   *  Unset: on the {domain} host of the public listener (docs/access.md#api_listen). */
  api_listen?: string;
  /** Failed authentications of one client address per auth_fail_window before it gets 429. */
  auth_fail_limit: number;
  /** Seconds the failures of an address count in (from its first failure). */
  auth_fail_window: number;
  /** Client addresses the failed-auth table keeps at most (the oldest goes first). */
  auth_fail_clients: number;
  /** [settings.tls]: HTTPS on the listener (core/tls.ts); absent, the listener speaks plain HTTP only. */
  tls?: TlsSettings;
}

/** [settings.tls]. The files are re-read when they change (core/tls-watch.ts). */
export interface TlsSettings {
  /** Absolute path (resolved against the config file's folder) of the PEM certificate, then its chain. */
  cert: string;
  /** Absolute path of the PEM private key of that certificate (unencrypted). */
  key: string;
  /** Port of the HTTPS listener, on `listen`; `port` stays the plain HTTP one. */
  port: number;
  /** The plain HTTP listener answers with a redirect to HTTPS (core/tls.ts httpsRedirect). */
  redirect: boolean;
}

export interface ServiceConfig {
  name: string;
  /** The command as argv (from `command`, split like a shell would, or from `args`). */
  argv: string[];
  /** Absolute working directory. */
  workdir: string;
  /** Health path (starts with /), or undefined for a TCP-connect probe. */
  health?: string;
  startup_timeout: number;
  stop_timeout: number;
  /** Seconds from the request sent to the app's response head (then 504). */
  request_timeout: number;
  /** Seconds the app may stay silent once its response has started (then the client connection is closed). */
  response_idle_timeout: number;
  /** Concurrent upstream requests (= keep-alive connections) per instance. */
  max_connections: number;
  /** Requests per instance waiting for a free upstream connection (beyond: 503). */
  max_queue: number;
  /** Seconds a request may wait for a free upstream connection (then 503). */
  queue_timeout: number;
  /** "port": the app listens on 127.0.0.1:$PORT; "socket": on the Unix socket $SOCKET_PATH. */
  listen: 'port' | 'socket';
  isolation: string;
  /** Seconds without traffic before the scaler puts an instance to sleep; 0 = never. */
  idle_timeout: number;
  /** How it sleeps: stop the process, or freeze it (thawed on the next request). */
  idle_action: 'stop' | 'suspend';
  /** Seconds a suspended instance stays frozen before it is stopped for real; 0 = never. */
  suspend_timeout: number;
  /** A request for an unknown {id} creates that instance (scaler). */
  spawn_on_request: boolean;
  /** Live instances of the service (starting, running, unhealthy, restarting) beyond which a
   *  request may not create or wake one more request-made instance (asleep ones do not count). */
  max_instances: number;
  /** Seconds without activity after which an instance a request created is stopped and removed
   *  (registry and store); 0 = never. Instances of [instances] and `ten spawn` never expire. */
  spawn_expire_after: number;
  /** The data folder of an expired instance: kept (a request for the same id finds it again) or removed. */
  spawn_expire_data: 'keep' | 'remove';
  /** Instances one client address may create per spawn_rate_window; 0 = no limit. */
  spawn_rate: number;
  /** Seconds: the window spawn_rate counts in, from the address's first creation in it. */
  spawn_rate_window: number;
  /** Ids a request may create: a regular expression the whole id must match, or a list of ids.
   *  Unset: any DNS label. Checked (the regex compiles, the ids are DNS labels) at config load. */
  spawn_ids?: string | string[];
  /** Sticky assignment for balanced requests: "cookie", or a lowercased header name whose value
   *  identifies the user (deploy-workflows). Unset = none. */
  sticky?: string;
  restart: RestartPolicy;
  weight: number;
  /** Raw env templates; {name} {id} {port} {data_dir} interpolated per instance. */
  env: Record<string, string>;
  /** User (name or uid) the app runs as; needs ten serve to run as root. */
  user?: string;
  /** Primary group (name or gid); unset: the user's own. */
  group?: string;
  /** Memory of the instance's whole cgroup, MiB (above it the kernel's OOM killer ends a process). */
  memory_limit_mb?: number;
  /** CPU time of the instance's cgroup, in cores (0.2 = 20 % of one core), enforced per 100 ms. */
  cpu_limit?: number;
  /** Processes and threads in the instance's cgroup, at most (fork fails beyond). */
  pids_limit?: number;
}

/** The resource limits of a service (cgroup controllers: memory, cpu, pids). */
export type Limits = Pick<ServiceConfig, 'memory_limit_mb' | 'cpu_limit' | 'pids_limit'>;

export interface PluginEntry {
  /** Built-in name, a ./path relative to tenement.toml, or an npm package name. */
  use: string;
  /** Everything in the table except `use`. */
  options: Record<string, unknown>;
  /** TOML path of the table, for error messages, e.g. "plugins.balancer". */
  where: string;
  /** Line of the table in the file (its [header], or its first key). */
  line?: number;
  /** Line of each option, by its dotted key relative to the table (`max_inflight`, `a.b[0]`). */
  lines?: Record<string, number>;
  /** Absolute path of the file the table is in (for messages about its options). */
  file?: string;
}

export interface TenementConfig {
  /** Absolute path of the file, or undefined when built from defaults. */
  path?: string;
  /** Folder that relative paths (data_dir, workdir, plugins) resolve against. */
  dir: string;
  settings: Settings;
  services: Record<string, ServiceConfig>;
  /** Instances spawned at boot: service → ids. */
  instances: Record<string, string[]>;
  plugins: {
    /** slot → chosen plugin, or false when the slot is switched off. Only slots named in the file. */
    slots: Record<string, PluginEntry | false>;
    extra: PluginEntry[];
  };
  /** Line in the file of every key, table and array element, by dotted key (`service.api.isolation`),
   *  for checks made after parsing (the plugin loader's) to name their line too. */
  lines?: Record<string, number>;
}

/**
 * What a reload of tenement.toml did (`ten reload`, POST /api/reload, SIGHUP; core/reload.ts):
 * the answer of the API, the payload of the `configReloaded` hook. Instances as "service:id".
 */
export interface ReloadReport {
  /** Who asked: `api` or `SIGHUP`. */
  source: string;
  /** The file read (absolute). */
  file: string;
  /** false when the file says what is already in force: nothing was done. */
  changed: boolean;
  services: {
    added: string[];
    /** Their instances were stopped and left the registry; the store keeps them for when the service returns. */
    removed: string[];
    /** Keys that changed per service: `restart` ones restart its instances, `live` ones apply in place. */
    changed: Array<{ service: string; restart: string[]; live: string[] }>;
  };
  instances: {
    /** Created and started: added services' (stored and [instances]) and ids new in [instances]. */
    started: string[];
    /** Stopped and taken out of the registry (their service was removed). */
    removed: string[];
    /** Restarted with the new config, one at a time per service, each running before the next. */
    restarted: string[];
    /** Suspended instances of a changed service, stopped: their next request starts them anew. */
    stopped: string[];
    /** Not running after the reload, or not restarted because an earlier instance of their service
     *  did not come back (they still run their old process). */
    failed: Array<{ instance: string; state: InstanceState; reason: string }>;
  };
  settings: {
    /** [settings] keys applied (at once, or by restarting the instances they concern). */
    applied: string[];
    /** [settings] keys left as they were until ten serve restarts. */
    needs_restart: string[];
  };
  /** Plugin tables that changed: the running plugins keep their options until ten serve restarts. */
  plugins: { needs_restart: string[] };
  /** One line per thing left undone (keys needing a restart, instances that failed). */
  warnings: string[];
}

/** What the `configReloaded` hook gets: the config in force before and after, and the report. */
export interface ConfigReload {
  previous: Readonly<TenementConfig>;
  config: Readonly<TenementConfig>;
  report: ReloadReport;
}

// ---------------------------------------------------------------- instances

export type InstanceState =
  | 'stopped' // not running, will not be started unless asked
  | 'starting' // process spawned, waiting for it to accept connections / pass health
  | 'running' // ready and healthy: receives traffic
  | 'unhealthy' // running but failing probes: no traffic, restart pending per policy
  | 'restarting' // exited or being replaced; waiting out the backoff delay
  | 'failed' // gave up after max_restarts within restart_window
  | 'stopping' // SIGTERM sent, waiting up to stop_timeout
  | 'idle'; // stopped by the scaler after idle_timeout; woken by the next request

export type HealthStatus = 'healthy' | 'unhealthy' | 'unknown';

export interface Instance {
  readonly service: string;
  readonly id: string;
  /** "service:id" — the name users type. */
  readonly key: string;
  state: InstanceState;
  /** 0–100; 0 = no balanced traffic (direct route still works). */
  weight: number;
  health: HealthStatus;
  port: number | null;
  /** The Unix socket the app listens on (`listen = "socket"`) while it has a process, else null. */
  socket: string | null;
  pid: number | null;
  /** ms epoch when the current process became running. */
  startedAt: number | null;
  /** ms epoch of each restart inside the current restart window. */
  restartTimes: number[];
  /** Total restarts since the instance was created (for display). */
  restarts: number;
  /** Requests currently being proxied to it. */
  inflight: number;
  /** ms epoch until which passive health ejection keeps it out of balancing. */
  ejectedUntil: number;
  /** How the last process ended; `reason` when tenement killed it itself (e.g. startup_timeout). */
  lastExit: { code: number | null; signal: string | null; at: number; reason?: string } | null;
  /** ms epoch of the last proxied request's start or end (scalers read it). */
  lastRequestAt: number;
  /** How the process is frozen while `idle` ("cgroup-freezer" or "sigstop"; "freezing" until
   *  the kernel confirms), or null. */
  suspended: string | null;
}

export interface WeightChange {
  instance: Instance;
  from: number;
  to: number;
}

export interface Transition {
  instance: Instance;
  from: InstanceState;
  to: InstanceState;
  reason: string;
}

/**
 * One entry of the event stream: something that happened to an instance or a service. It goes to
 * the log stream (stream `event`, beside the apps' stdout and stderr) and to whoever taps the
 * `event` hook (metrics). The core's kinds: `spawned` (fields pid, port), `exited` (code,
 * signal), `state` (from, to), `weight` (from, to), `adopted` (pid, port: a process a previous
 * ten serve left running, taken back: core/adopt.ts), `reload` (per service a reload changed, and
 * one with service "" for the whole reload: core/reload.ts), `certificate` (service "": a TLS
 * renewal loaded or refused, fields outcome, serial, not_after / code: core/tls-watch.ts). Plugins
 * add their own through ctx.emit():
 * the idle-scaler's `wake` (result, duration_seconds), `sleep` (action), `spawn` (client) and
 * `expire` (idle_seconds, data); deploy-workflows'
 * `deploy.step`, `rollout.step`, `rollout.outcome` (outcome) and `shadow.mismatch`.
 */
export interface TenementEvent {
  /** When, in ms since the epoch. */
  at: number;
  /** Who said it: `tenement` (the core) or a plugin's name. */
  source: string;
  /** What happened, e.g. `exited`; dotted by topic for plugins (`rollout.step`). */
  kind: string;
  /** The service it is about; "" for the whole server (a reload's summary). */
  service: string;
  /** The instance id, when it is about one instance. */
  instance?: string;
  /** One line for people, e.g. `exited with code 1`. */
  message: string;
  /** Values for machines (metrics labels and observations). */
  fields?: Readonly<Record<string, string | number | boolean | null>>;
}

/** What a plugin passes to ctx.emit(): the core stamps `at` and `source`. */
export type EventInput = Omit<TenementEvent, 'at' | 'source'>;

// ---------------------------------------------------------------- requests

/** Where a request is going, as decided by resolveTarget. */
export type Target =
  | { kind: 'management' }
  | { kind: 'service'; service: string; instanceId?: string };

export interface RequestContext {
  req: IncomingMessage;
  /** undefined for WebSocket upgrades. */
  res?: ServerResponse;
  /** Lowercased host name without port or trailing dot, from `authority`. */
  host: string;
  /** The authority the request names: its Host header as sent, or the authority of an
   *  absolute-form target (RFC 9112 §3.2.2). */
  authority: string;
  /** The request target in origin-form (path and query), byte for byte as the client sent it. */
  path: string;
  /** true for a WebSocket upgrade. */
  upgrade: boolean;
  /** performance.now() at arrival. */
  start: number;
  /** Where the request goes: the core host parse, refined by resolveTarget taps. */
  target?: Target;
  instance?: Instance;
  /** Error code when tenement answered the request itself (404/502/503/504). */
  code?: string;
  /** Header pairs (flat [name, value, …]) plugins add to the response, e.g. a sticky cookie. */
  responseHeaders?: string[];
}

export interface Outcome {
  instance?: Instance;
  status: number;
  durationMs: number;
  /** Error code when the proxy answered itself (404/502/503/504). */
  code?: string;
}

export interface WakeContext {
  service: string;
  instanceId?: string;
  /** The client's address: the connection's peer, or when the peer is one of `[settings]
   *  trusted_proxies`, the nearest address in its X-Forwarded-For that is not (IPv4-mapped IPv6
   *  written as IPv4; '' when unknown). What per-client limits key on (the scaler's spawn_rate). */
  client: string;
  ctx: RequestContext;
}

/**
 * How an instance's process is started (the prepareSpawn hook rewrites it). The core always runs
 * the app under tenement-init (its init: own process group, signals forwarded, orphans reaped and
 * ended with it; docs/isolation.md), inside the instance's cgroup when the host has one:
 *   tenement-init --join … --exec -- ...wrap tenement-init ...initOptions -- ...argv
 * (without `wrap`, one tenement-init does both). An isolation level adds what it needs to `wrap`
 * (e.g. unshare(1) or bwrap(1) and their options, ending with their own `--` if they take one).
 */
export interface SpawnSpec {
  service: ServiceConfig;
  instance: Instance;
  /** The app's command. */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** Commands the init and the app run inside, outermost first (empty for `process`). */
  wrap: string[];
  /** More tenement-init options: `--hostname NAME`, `--no-new-privs`, `--drop-caps`. */
  initOptions: string[];
  /** The user (name or uid) and group the app runs as; unset: ten serve's own (the core fills
   *  them from the service, then [settings], then `nobody` when ten serve is root). */
  user?: string;
  group?: string;
  /** The instance's data directory ($DATA_DIR) and the folder of its Unix socket: made by the
   *  core, owned by `user`, mode 0700. An isolation level that hides the file system keeps them. */
  dataDir: string;
  socketDir: string;
}

export interface ProbeResult {
  ok: boolean;
  /** e.g. "HTTP 200", "ECONNREFUSED", "timeout after 2000 ms" */
  detail: string;
  latencyMs: number;
}

export type { IncomingMessage, ServerResponse };
