// What tenement.toml accepts, as JSON Schema built with TypeBox: types, ranges and defaults of
// [settings], [service.NAME], [instances] and [plugins.*]. docs/configuration.md mirrors these
// schemas. core/schema.ts compiles them (ajv, defaults filled in); the rules a schema cannot say
// (host names, IPs, command splitting, ...) are code in config.ts. Also here: where a key sits in
// the file (from toml-eslint-parser's syntax tree) and how keys and values are shown in messages.
import { type Static, Type } from '@sinclair/typebox';
import { type AST, parseTOML } from 'toml-eslint-parser';
import { SLOTS } from './plugin.ts';
import { TenementError } from './errors.ts';
import { closest } from './suggest.ts';
import type { ServiceConfig, Settings, TenementConfig } from './types.ts';

/** A duration in seconds (fractions allowed) that must be > 0. */
const Seconds = (d: number) => Type.Number({ exclusiveMinimum: 0, default: d });
/** Seconds that may be 0. */
const SecondsOrZero = (d: number) => Type.Number({ minimum: 0, default: d });
const Int = (d: number, minimum: number, maximum?: number) => Type.Integer({ minimum, ...(maximum === undefined ? {} : { maximum }), default: d });
/** One of a few strings, as a plain `enum` (one error, "must be one of ..."). */
const OneOf = <T extends string>(values: readonly T[], d: T) => Type.Unsafe<T>({ type: 'string', enum: [...values], default: d });

const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const;
const IDLE_ACTIONS = ['stop', 'suspend'] as const;
/** What becomes of an expired request-made instance's data folder. */
const EXPIRE_DATA = ['keep', 'remove'] as const;
/** How an instance takes connections: on 127.0.0.1:$PORT, or on the Unix socket $SOCKET_PATH. */
const LISTEN_MODES = ['port', 'socket'] as const;
/** A user or group: a name (useradd(8)'s rule, with `.`) or a numeric id. */
const Principal = () => Type.Optional(Type.String({ pattern: '^([a-z_][a-z0-9_.-]*[$]?|[0-9]+)$', description: 'a user or group name, or a numeric id' }));

/** [settings]; `data_dir` is resolved against the file's folder by config.ts. */
export const SettingsSchema = Type.Object({
  domain: Type.String({ default: 'localhost' }),
  listen: Type.String({ default: '0.0.0.0' }),
  port: Int(8080, 0, 65535),
  data_dir: Type.String({ default: './tenement-data' }),
  health_interval: Seconds(5),
  health_timeout: Seconds(2),
  unhealthy_threshold: Int(3, 1),
  healthy_threshold: Int(1, 1),
  max_restarts: Int(5, 0),
  restart_window: Seconds(60),
  backoff_base: Seconds(0.5),
  backoff_max: Seconds(30),
  drain_timeout: SecondsOrZero(10),
  trusted_proxies: Type.Array(Type.String(), { default: [] }),
  forwarded: Type.Boolean({ default: false }),
  client_header_timeout: Seconds(10),
  client_body_timeout: Seconds(30),
  keepalive_timeout: Seconds(5),
  max_pipelined: Int(16, 1, 1024),
  max_requests: Int(10000, 1),
  max_header_size: Int(16384, 1024, 1048576),
  max_uri_length: Int(8192, 256, 1048576),
  log_max_size: Int(134217728, 1048576),
  log_max_age: Seconds(604800),
  log_ring_size: Int(1000, 10, 100000),
  log_line_max: Int(16384, 256, 1048576),
  user: Principal(),
  group: Principal(),
  api_listen: Type.Optional(Type.String({ description: 'a loopback address "127.0.0.1:PORT" or "[::1]:PORT", or "unix:/path/to/socket"' })),
  auth_fail_limit: Int(20, 1, 1000000),
  auth_fail_window: Seconds(60),
  auth_fail_clients: Int(10000, 1, 1000000),
  // HTTPS on the listener (core/tls.ts): the files are checked by config.ts (checkTls)
  tls: Type.Optional(Type.Object({
    cert: Type.String({ minLength: 1, description: 'a path to a PEM certificate (chain)' }),
    key: Type.String({ minLength: 1, description: 'a path to a PEM private key' }),
    port: Int(8443, 0, 65535),
    redirect: Type.Boolean({ default: true }),
  }, { additionalProperties: false })),
}, { additionalProperties: false, default: {} });

/** [service.NAME] as written; config.ts turns it into a ServiceConfig (argv, absolute workdir, env strings). */
const ServiceSchema = Type.Object({
  command: Type.Optional(Type.String()),
  args: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
  workdir: Type.Optional(Type.String()),
  health: Type.Optional(Type.String({ pattern: '^/', description: 'a path starting with "/"' })),
  startup_timeout: Seconds(30),
  stop_timeout: SecondsOrZero(10),
  request_timeout: Seconds(30),
  response_idle_timeout: Seconds(60),
  max_connections: Int(128, 1, 65536),
  max_queue: Int(256, 0, 1000000),
  queue_timeout: Seconds(5),
  listen: OneOf(LISTEN_MODES, 'port'),
  isolation: Type.String({ default: 'process' }),
  idle_timeout: SecondsOrZero(0),
  idle_action: OneOf(IDLE_ACTIONS, 'stop'),
  suspend_timeout: SecondsOrZero(300),
  spawn_on_request: Type.Boolean({ default: false }),
  sticky: Type.Optional(Type.String()),
  max_instances: Int(10, 1, 10000),
  spawn_expire_after: SecondsOrZero(86400),
  spawn_expire_data: OneOf(EXPIRE_DATA, 'keep'),
  spawn_rate: Int(10, 0, 1000000),
  spawn_rate_window: Seconds(60),
  spawn_ids: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'a regular expression (string) or an array of ids' })),
  restart: OneOf(RESTART_POLICIES, 'always'),
  weight: Int(100, 0, 100),
  env: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()], { description: 'a string, number or boolean' }), { default: {} }),
  user: Principal(),
  group: Principal(),
  memory_limit_mb: Type.Optional(Type.Integer({ minimum: 4, maximum: 16777216 })),
  cpu_limit: Type.Optional(Type.Number({ minimum: 0.01, maximum: 1024 })),
  pids_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 4194304 })),
}, { additionalProperties: false });

const PLUGIN_NAME = { pattern: '\\S', description: 'a plugin name (string)' };
/** [plugins.SLOT]: `use` (a plugin, or false for off); every other key is an option of that plugin. */
const SlotEntry = Type.Object({ use: Type.Union([Type.String(PLUGIN_NAME), Type.Literal(false)], { description: 'a plugin name (string) or false' }) });
const ExtraEntry = Type.Object({ use: Type.String(PLUGIN_NAME) });

/** The whole file. An unknown table under [plugins] is TEN_ERR_PLUGIN_UNKNOWN_SLOT (the `errorCode` annotation). */
export const ConfigFileSchema = Type.Object({
  settings: SettingsSchema,
  service: Type.Record(Type.String(), ServiceSchema, { default: {} }),
  instances: Type.Record(Type.String(), Type.Array(Type.String()), { default: {} }),
  plugins: Type.Object({
    ...Object.fromEntries(SLOTS.map((s) => [s, Type.Optional(SlotEntry)])),
    extra: Type.Optional(Type.Array(ExtraEntry, { description: 'an array of tables ([[plugins.extra]])' })),
  }, { additionalProperties: false, default: {}, errorCode: 'TEN_ERR_PLUGIN_UNKNOWN_SLOT' }),
}, { additionalProperties: false });
export type ConfigFile = Static<typeof ConfigFileSchema>;

// The schemas and the hand-written config shapes (types.ts) must agree: a compile-time check.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const settingsAgree: Same<Static<typeof SettingsSchema>, Settings> = true;
const serviceAgrees: Same<Omit<Static<typeof ServiceSchema>, 'command' | 'args' | 'workdir' | 'env'>, Omit<ServiceConfig, 'name' | 'argv' | 'workdir' | 'env'>> = true;
void [settingsAgree, serviceAgrees];

// ---------------------------------------------------------------- keys, values, names

/** A TOML path: table keys as strings, array positions as numbers. */
export type TomlPath = ReadonlyArray<string | number>;

/** Renders a path as the dotted key users write: service.api.weight, service."A B", plugins.extra[0].use */
export function formatKey(p: TomlPath): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += (out ? '.' : '') + (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));
  }
  return out;
}

/** Stands for a TOML date or time, which no key of tenement.toml accepts (every type check fails on it). */
export const DATE = Symbol('a date');

/** What a value looks like, for "got ..." in messages. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date || v === DATE) return 'a date';
  return 'a table';
}

/** ` (did you mean "x"?)` for the closest candidate within edit distance 2, else "". */
export function didYouMean(key: string, candidates: readonly string[]): string {
  const best = closest(key, candidates, 2);
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

/** Service names and instance ids (they become host name labels). The one definition. */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const DNS_RULE = 'must be a DNS label (a-z, 0-9, -; 1 to 63 chars; no leading or trailing -)';

/** True for a valid service name / instance id: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`. */
export function isDnsLabel(s: string): boolean {
  return DNS_LABEL.test(s);
}

/**
 * The test a service's `spawn_ids` makes of an id a request would create: a list admits exactly
 * its ids; a string is a JavaScript regular expression (no flags) that the WHOLE id must match, as
 * if written `^(?:pattern)$`. Throws a SyntaxError (its message says why) when the pattern does not
 * compile; config.ts turns that into TEN_ERR_CONFIG_INVALID_VALUE with the key's line.
 */
export function spawnIdTest(spec: string | readonly string[]): (id: string) => boolean {
  if (typeof spec !== 'string') {
    const ids = new Set(spec);
    return (id) => ids.has(id);
  }
  new RegExp(spec); // the pattern as written must compile: wrapping it could hide an unbalanced ")("
  const re = new RegExp(`^(?:${spec})$`);
  return (id) => re.test(id);
}

/** The service called `name`, or undefined; never an Object.prototype member (`constructor`). */
export function serviceOf(config: TenementConfig, name: string): ServiceConfig | undefined {
  return Object.hasOwn(config.services, name) ? config.services[name] : undefined;
}

/** The service called `name`; TEN_ERR_INSTANCE_UNKNOWN_SERVICE (404) naming the closest defined
 *  one when there is none (`ten spawn apu:v1` → did you mean api?). */
export function requireService(config: TenementConfig, name: string): ServiceConfig {
  const svc = serviceOf(config, name);
  if (svc) return svc;
  const guess = closest(name, Object.keys(config.services), 2, true);
  throw new TenementError('TEN_ERR_INSTANCE_UNKNOWN_SERVICE', [name, guess ? ` (did you mean ${guess}?)` : '']);
}

// ---------------------------------------------------------------- lines

const joinPath = (p: TomlPath): string => p.map(String).join('\u0000');

/** Where each key, table header and array element of a TOML text starts (1-based lines), read from
 *  toml-eslint-parser's syntax tree. Text it cannot parse yields no lines (never an error). */
export class TomlPositions {
  private readonly lines = new Map<string, { p: TomlPath; line: number }>();

  constructor(text: string) {
    let body;
    try {
      body = parseTOML(text, { tomlVersion: '1.1' }).body[0].body;
    } catch {
      return;
    }
    const put = (p: TomlPath, line: number) => { if (!this.lines.has(joinPath(p))) this.lines.set(joinPath(p), { p, line }); };
    const keyValue = (kv: AST.TOMLKeyValue, base: TomlPath) => {
      const p = [...base, ...kv.key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value))];
      put(p, kv.loc.start.line);
      value(kv.value, p);
    };
    const value = (node: AST.TOMLContentNode, p: TomlPath): void => {
      if (node.type === 'TOMLInlineTable') for (const kv of node.body) keyValue(kv, p);
      if (node.type === 'TOMLArray') node.elements.forEach((el, i) => { put([...p, i], el.loc.start.line); value(el, [...p, i]); });
    };
    for (const node of body) {
      if (node.type === 'TOMLKeyValue') { keyValue(node, []); continue; }
      if (node.kind === 'array') put(node.resolvedKey.slice(0, -1), node.loc.start.line);
      put(node.resolvedKey, node.loc.start.line);
      for (const kv of node.body) keyValue(kv, node.resolvedKey);
    }
  }

  /** Line of `p`: where it is defined, else its first sub-key, else the same for its nearest parent
   *  (a table that only [service.api.env] defines is on that header's line). */
  lineOf(p: TomlPath): number | undefined {
    for (let n = p.length; n > 0; n--) {
      const line = this.ownLine(p.slice(0, n));
      if (line !== undefined) return line;
    }
    return undefined;
  }

  private ownLine(p: TomlPath): number | undefined {
    const exact = this.lines.get(joinPath(p));
    if (exact !== undefined) return exact.line;
    const prefix = joinPath(p) + '\u0000';
    let first: number | undefined;
    for (const [k, { line }] of this.lines) if (k.startsWith(prefix) && (first === undefined || line < first)) first = line;
    return first;
  }

  /** The lines of everything under `p`, keyed by the dotted key relative to it (`max_inflight`, `a.b[0]`). */
  under(p: TomlPath): Record<string, number> {
    const prefix = p.length === 0 ? '' : joinPath(p) + '\u0000';
    const out: Record<string, number> = {};
    for (const [k, at] of this.lines) if (k.startsWith(prefix)) out[formatKey(at.p.slice(p.length))] = at.line;
    return out;
  }
}
