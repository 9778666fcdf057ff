// What a reload of tenement.toml changes, and how each change takes effect (core/reload.ts applies
// it). Every key of [settings] and [service.NAME] is classified here, in a Record over the key
// names, so a new key does not compile until its reload behaviour is chosen (as HOOK_POLICY does
// for hooks); docs/configuration.md ("Reloading") says the same, key by key.
import { createHash } from 'node:crypto';
import type { ServiceConfig, Settings, TenementConfig } from './types.ts';

/**
 * How a changed [settings] key takes effect on `ten reload` / SIGHUP:
 * - `live`: at once (the components read it at call time: health, backoff, drain, log limits);
 * - `instances`: the instances of the services it applies to are restarted (the default user);
 * - `server`: not applied: it needs a restart of ten serve (the listener, the data folder). The
 *   config in force keeps the old value until then, and each reload says so again.
 */
export const SETTINGS_RELOAD: Readonly<Record<keyof Settings, 'live' | 'instances' | 'server'>> = Object.freeze({
  domain: 'server',
  listen: 'server',
  port: 'server',
  data_dir: 'server',
  // the API listener and its failed-auth throttle are made once, at start (access.ts)
  api_listen: 'server',
  auth_fail_limit: 'server',
  auth_fail_window: 'server',
  auth_fail_clients: 'server',
  health_interval: 'live',
  health_timeout: 'live',
  unhealthy_threshold: 'live',
  healthy_threshold: 'live',
  max_restarts: 'live',
  restart_window: 'live',
  backoff_base: 'live',
  backoff_max: 'live',
  drain_timeout: 'live',
  // the listener and its connections are set up once (core/listener.ts)
  trusted_proxies: 'server',
  forwarded: 'server',
  client_header_timeout: 'server',
  client_body_timeout: 'server',
  keepalive_timeout: 'server',
  max_pipelined: 'server',
  max_requests: 'server',
  max_header_size: 'server',
  max_uri_length: 'server',
  // the HTTPS listener is made at start; the files it names are re-read when they change, without
  // a reload (core/tls-watch.ts); a reload still checks them (a bad pair refuses it)
  tls: 'server',
  log_max_size: 'live',
  log_max_age: 'live',
  log_ring_size: 'live',
  /** for processes started from then on */
  log_line_max: 'live',
  user: 'instances',
  group: 'instances',
});

/**
 * How a changed [service.NAME] key takes effect: `restart` = what a process is started with (its
 * command, environment, user, isolation, limits, and the upstream pool made per process), so the
 * service's instances are restarted one at a time; `live` = read when used (health probes, time
 * limits, idle policy, the default weight of instances created from then on), applied in place.
 */
export const SERVICE_RELOAD: Readonly<Record<Exclude<keyof ServiceConfig, 'name'>, 'live' | 'restart'>> = Object.freeze({
  argv: 'restart',
  workdir: 'restart',
  env: 'restart',
  listen: 'restart',
  isolation: 'restart',
  user: 'restart',
  group: 'restart',
  memory_limit_mb: 'restart',
  cpu_limit: 'restart',
  pids_limit: 'restart',
  max_connections: 'restart',
  max_queue: 'restart',
  queue_timeout: 'restart',
  health: 'live',
  startup_timeout: 'live',
  stop_timeout: 'live',
  request_timeout: 'live',
  response_idle_timeout: 'live',
  idle_timeout: 'live',
  idle_action: 'live',
  suspend_timeout: 'live',
  spawn_on_request: 'live',
  max_instances: 'live',
  sticky: 'live',
  restart: 'live',
  weight: 'live',
  // the idle-scaler reads these per request (its spawn_ids pattern is compiled per config object)
  spawn_expire_after: 'live',
  spawn_expire_data: 'live',
  spawn_rate: 'live',
  spawn_rate_window: 'live',
  spawn_ids: 'live',
});

/** A service whose table changed: the keys, split by how they take effect. */
export interface ServiceChange {
  service: string;
  /** Keys whose change restarts the service's instances (`user` also when [settings] user changed
   *  and the service sets none). */
  restart: string[];
  /** Keys applied in place. */
  live: string[];
}

export interface ConfigDiff {
  added: string[];
  removed: string[];
  changed: ServiceChange[];
  settings: { live: string[]; instances: string[]; server: string[] };
  /** Plugin tables ([plugins.SLOT], [[plugins.extra]]) that differ: they need a restart of ten serve. */
  plugins: string[];
}

/** `v` as JSON with object keys sorted: equal values give equal strings (env order aside). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);

/** A service as its processes see it: its own user and group, else [settings]' (process.ts appUser). */
function asRun(svc: ServiceConfig, s: Settings): ServiceConfig {
  return { ...svc, user: svc.user ?? s.user, group: svc.group ?? s.group };
}

/**
 * What a service's processes are started with (its `restart` keys, and the user and group they run
 * as), as one SHA-256 hex string: equal for two configs iff a process started under one is what the
 * other would start. A restarted ten serve compares it to decide whether an app it adopts still
 * runs the config in force (adopt.ts).
 */
export function startFingerprint(svc: ServiceConfig, s: Settings): string {
  const run = asRun(svc, s);
  const keys = (Object.keys(SERVICE_RELOAD) as Array<keyof typeof SERVICE_RELOAD>).filter((k) => SERVICE_RELOAD[k] === 'restart').sort();
  return createHash('sha256').update(canonical(Object.fromEntries(keys.map((k) => [k, run[k] ?? null])))).digest('hex');
}

/** What differs between the config in force and the one just read, key by key. */
export function diffConfigs(current: TenementConfig, next: TenementConfig): ConfigDiff {
  const has = (c: TenementConfig, name: string) => Object.hasOwn(c.services, name);
  const diff: ConfigDiff = {
    added: Object.keys(next.services).filter((n) => !has(current, n)),
    removed: Object.keys(current.services).filter((n) => !has(next, n)),
    changed: [],
    settings: { live: [], instances: [], server: [] },
    plugins: [],
  };
  for (const key of Object.keys(SETTINGS_RELOAD) as Array<keyof Settings>) {
    if (!same(current.settings[key], next.settings[key])) diff.settings[SETTINGS_RELOAD[key]].push(key);
  }
  for (const [name, svc] of Object.entries(next.services)) {
    if (!has(current, name)) continue;
    const was = asRun(current.services[name], current.settings);
    const now = asRun(svc, next.settings);
    const change: ServiceChange = { service: name, restart: [], live: [] };
    for (const key of Object.keys(SERVICE_RELOAD) as Array<keyof typeof SERVICE_RELOAD>) {
      if (!same(was[key], now[key])) change[SERVICE_RELOAD[key]].push(key);
    }
    if (change.restart.length + change.live.length > 0) diff.changed.push(change);
  }
  const tables = (c: TenementConfig) => {
    const out = new Map<string, unknown>();
    for (const [slot, e] of Object.entries(c.plugins.slots)) out.set(`plugins.${slot}`, e === false ? false : { use: e.use, options: e.options });
    c.plugins.extra.forEach((e, i) => out.set(`plugins.extra[${i}]`, { use: e.use, options: e.options }));
    return out;
  };
  const [was, now] = [tables(current), tables(next)];
  for (const key of new Set([...was.keys(), ...now.keys()])) if (!same(was.get(key), now.get(key))) diff.plugins.push(key);
  return diff;
}

/**
 * The config that takes effect: `next`, except what needs a restart of ten serve — the `server`
 * keys of [settings] and the plugin tables — which keep the values in force (the listener, the
 * data folder and the plugins running were made from them).
 */
export function inForce(current: TenementConfig, next: TenementConfig, diff: ConfigDiff): TenementConfig {
  const settings = { ...next.settings } as Record<string, unknown>;
  for (const key of diff.settings.server) settings[key] = current.settings[key as keyof Settings];
  return { ...next, settings: settings as unknown as Settings, plugins: diff.plugins.length > 0 ? current.plugins : next.plugins };
}
