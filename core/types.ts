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
  request_timeout: number;
  isolation: string;
  /** Seconds without traffic before the scaler puts an instance to sleep; 0 = never. */
  idle_timeout: number;
  /** How it sleeps: stop the process, or freeze it (thawed on the next request). */
  idle_action: 'stop' | 'suspend';
  /** Seconds a suspended instance stays frozen before it is stopped for real; 0 = never. */
  suspend_timeout: number;
  /** A request for an unknown {id} creates that instance (scaler). */
  spawn_on_request: boolean;
  /** With spawn_on_request: no instance is created on request once the service has this many. */
  max_instances: number;
  /** Sticky assignment for balanced requests: "cookie", or a lowercased header name whose value
   *  identifies the user (deploy-workflows). Unset = none. */
  sticky?: string;
  restart: RestartPolicy;
  weight: number;
  /** Raw env templates; {name} {id} {port} {data_dir} interpolated per instance. */
  env: Record<string, string>;
}

export interface PluginEntry {
  /** Built-in name, a ./path relative to tenement.toml, or an npm package name. */
  use: string;
  /** Everything in the table except `use`. */
  options: Record<string, unknown>;
  /** TOML path of the table, for error messages, e.g. "plugins.balancer". */
  where: string;
  line?: number;
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

// ---------------------------------------------------------------- requests

/** Where a request is going, as decided by resolveTarget. */
export type Target =
  | { kind: 'management' }
  | { kind: 'service'; service: string; instanceId?: string };

export interface RequestContext {
  req: IncomingMessage;
  /** undefined for WebSocket upgrades. */
  res?: ServerResponse;
  /** Lowercased Host without port. */
  host: string;
  /** true for a WebSocket upgrade. */
  upgrade: boolean;
  /** performance.now() at arrival. */
  start: number;
  target?: Target;
  instance?: Instance;
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
  ctx: RequestContext;
}

export interface SpawnSpec {
  service: ServiceConfig;
  instance: Instance;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** Own session and process group (process-isolation sets this). */
  detached: boolean;
  uid?: number;
  gid?: number;
}

export interface ProbeResult {
  ok: boolean;
  /** e.g. "HTTP 200", "ECONNREFUSED", "timeout after 2000 ms" */
  detail: string;
  latencyMs: number;
}

export type { IncomingMessage, ServerResponse };
