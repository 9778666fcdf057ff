// The keys tenement.toml accepts, with their types, ranges and defaults. docs/configuration.md
// mirrors these tables. Keys with extra rules (domain, listen, command/args, health, env, ...) are
// checked further in config.ts. Source (at the end) is the checker that turns a bad value into a
// TenementError naming the key and its line.
import path from 'node:path';
import { type ErrorCode, TenementError } from './errors.ts';
import { formatKey, TomlLines, type TomlPath } from './toml-lines.ts';
import type { ServiceConfig, Settings, TenementConfig } from './types.ts';

export interface Field {
  type: 'number' | 'integer' | 'string' | 'boolean' | 'string[]' | 'table';
  default?: unknown;
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound (durations: > 0). */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  oneOf?: readonly string[];
}

/** A duration in seconds (floats allowed) that must be > 0. */
const seconds = (d: number): Field => ({ type: 'number', default: d, above: 0 });

export const TOP_LEVEL_KEYS = ['settings', 'service', 'instances', 'plugins'] as const;

export const SETTINGS_FIELDS: Record<keyof Settings, Field> = {
  domain: { type: 'string', default: 'localhost' },
  listen: { type: 'string', default: '0.0.0.0' },
  port: { type: 'integer', default: 8080, min: 0, max: 65535 },
  data_dir: { type: 'string', default: './tenement-data' },
  health_interval: seconds(5),
  health_timeout: seconds(2),
  unhealthy_threshold: { type: 'integer', default: 3, min: 1 },
  healthy_threshold: { type: 'integer', default: 1, min: 1 },
  max_restarts: { type: 'integer', default: 5, min: 0 },
  restart_window: seconds(60),
  backoff_base: seconds(0.5),
  backoff_max: seconds(30),
  drain_timeout: { type: 'number', default: 10, min: 0 },
  trusted_proxies: { type: 'string[]', default: [] },
  forwarded: { type: 'boolean', default: false },
  client_header_timeout: seconds(10),
  client_body_timeout: seconds(30),
  keepalive_timeout: seconds(5),
  max_pipelined: { type: 'integer', default: 16, min: 1, max: 1024 },
  max_requests: { type: 'integer', default: 10000, min: 1 },
  max_header_size: { type: 'integer', default: 16384, min: 1024, max: 1048576 },
  max_uri_length: { type: 'integer', default: 8192, min: 256, max: 1048576 },
};

export const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const;
export const IDLE_ACTIONS = ['stop', 'suspend'] as const;
/** How an instance takes connections: on 127.0.0.1:$PORT, or on the Unix socket $SOCKET_PATH. */
export const LISTEN_MODES = ['port', 'socket'] as const;

export const SERVICE_FIELDS: Record<string, Field> = {
  command: { type: 'string' },
  args: { type: 'string[]' },
  workdir: { type: 'string' },
  health: { type: 'string' },
  startup_timeout: seconds(30),
  stop_timeout: { type: 'number', default: 10, min: 0 },
  request_timeout: seconds(30),
  response_idle_timeout: seconds(60),
  max_connections: { type: 'integer', default: 128, min: 1, max: 65536 },
  max_queue: { type: 'integer', default: 256, min: 0, max: 1000000 },
  queue_timeout: seconds(5),
  listen: { type: 'string', default: 'port', oneOf: LISTEN_MODES },
  isolation: { type: 'string', default: 'process' },
  idle_timeout: { type: 'number', default: 0, min: 0 },
  idle_action: { type: 'string', default: 'stop', oneOf: IDLE_ACTIONS },
  suspend_timeout: { type: 'number', default: 300, min: 0 },
  spawn_on_request: { type: 'boolean', default: false },
  sticky: { type: 'string' },
  max_instances: { type: 'integer', default: 10, min: 1, max: 10000 },
  restart: { type: 'string', default: 'always', oneOf: RESTART_POLICIES },
  weight: { type: 'integer', default: 100, min: 0, max: 100 },
  env: { type: 'table' },
};

/** Settings with every default filled; data_dir is resolved against `dir` by the caller. */
export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(SETTINGS_FIELDS)) out[k] = f.default;
  return out as unknown as Settings;
}

/** What a value looks like, for "got ..." in messages. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date';
  return 'a table';
}

export const TYPE_NAMES: Record<Field['type'], string> = {
  number: 'a number',
  integer: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  'string[]': 'an array of strings',
  table: 'a table',
};

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** ` (did you mean "x"?)` for the closest candidate within edit distance 2, else "". */
export function didYouMean(key: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

// ---------------------------------------------------------------- checking

export type Table = Record<string, unknown>;

/** Service names and instance ids (they become host name labels). The one definition. */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const DNS_RULE = 'must be a DNS label (a-z, 0-9, -; 1 to 63 chars; no leading or trailing -)';

/** True for a valid service name / instance id: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`. */
export function isDnsLabel(s: string): boolean {
  return DNS_LABEL.test(s);
}

function isHostname(s: string): boolean {
  return s.length <= 253 && s.split('.').every(isDnsLabel);
}

export const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Where errors point: the file and its line index, or a command-line override. */
export class Source {
  readonly lines: TomlLines | undefined;
  constructor(readonly file: string | undefined, text?: string) {
    this.lines = text === undefined ? undefined : new TomlLines(text);
  }

  /** Throws `code` with ` (file:line)` appended to its message and { key, line, file } as details. */
  fail(code: ErrorCode, p: TomlPath, args: string[]): never {
    const line = this.lines?.lineOf(p);
    const err = new TenementError(code, args, { key: formatKey(p), line, file: this.file });
    err.message += ` (${this.file === undefined ? 'override' : path.basename(this.file) + (line === undefined ? '' : `:${line}`)})`;
    throw err;
  }

  unknownKeys(t: Table, p: TomlPath, known: readonly string[]): void {
    for (const k of Object.keys(t)) {
      if (!known.includes(k)) this.fail('TEN_ERR_CONFIG_UNKNOWN_KEY', [...p, k], [formatKey([...p, k]), didYouMean(k, known)]);
    }
  }

  table(v: unknown, p: TomlPath): Table {
    if (v === undefined) return {};
    if (!isTable(v)) this.fail('TEN_ERR_CONFIG_INVALID_TYPE', p, [formatKey(p), `a table, got ${describe(v)}`]);
    return v;
  }

  /** Checks one value against its field: type, then range / allowed values. */
  value(v: unknown, f: Field, p: TomlPath): unknown {
    const key = formatKey(p);
    const ok =
      f.type === 'number' ? typeof v === 'number' && Number.isFinite(v)
      : f.type === 'integer' ? Number.isInteger(v)
      : f.type === 'string' ? typeof v === 'string'
      : f.type === 'boolean' ? typeof v === 'boolean'
      : f.type === 'string[]' ? Array.isArray(v) && v.every((x) => typeof x === 'string')
      : isTable(v);
    if (!ok) this.fail('TEN_ERR_CONFIG_INVALID_TYPE', p, [key, `${TYPE_NAMES[f.type]}, got ${describe(v)}`]);
    if (typeof v === 'number') {
      const range = (m: string): never => this.fail('TEN_ERR_CONFIG_OUT_OF_RANGE', p, [key, `must be ${m}, got ${v}`]);
      if (f.min !== undefined && f.max !== undefined && (v < f.min || v > f.max)) range(`between ${f.min} and ${f.max}`);
      if (f.min !== undefined && v < f.min) range(`at least ${f.min}`);
      if (f.above !== undefined && v <= f.above) range(`greater than ${f.above}`);
    }
    if (f.oneOf && !f.oneOf.includes(v as string)) {
      this.fail('TEN_ERR_CONFIG_INVALID_VALUE', p, [key, `must be one of ${f.oneOf.map((x) => `"${x}"`).join(', ')}, got ${describe(v)}`]);
    }
    return v;
  }

  /** Validates a table against `fields`: unknown keys are errors, missing keys get their default. */
  fields(t: Table, fields: Record<string, Field>, p: TomlPath): Record<string, unknown> {
    this.unknownKeys(t, p, Object.keys(fields));
    const out: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(fields)) out[k] = t[k] === undefined ? f.default : this.value(t[k], f, [...p, k]);
    return out;
  }

  domain(v: string, p: TomlPath): string {
    const d = v.toLowerCase();
    if (!isHostname(d)) this.fail('TEN_ERR_CONFIG_INVALID_VALUE', p, [formatKey(p), `must be a host name made of dot-separated DNS labels (a-z, 0-9, -), got ${describe(v)}`]);
    return d;
  }
}

/** The service called `name`, or undefined; never an Object.prototype member (`constructor`). */
export function serviceOf(config: TenementConfig, name: string): ServiceConfig | undefined {
  return Object.hasOwn(config.services, name) ? config.services[name] : undefined;
}
