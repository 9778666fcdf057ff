// tenement.toml → TenementConfig: find the file, parse it with smol-toml, validate every key, fill
// defaults and resolve paths. Every error is a TenementError (TEN_ERR_CONFIG_*) that names the
// dotted key and `file:line`, with { key, line, file } in its details.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse as parseShell } from 'shell-quote';
import { parse as parseToml, TomlError } from 'smol-toml';
import { TenementError } from './errors.ts';
import { SLOTS } from './plugin.ts';
import type { PluginEntry, ServiceConfig, Settings, TenementConfig } from './types.ts';
import { describe, didYouMean, DNS_RULE, isDnsLabel, isTable, SERVICE_FIELDS, SETTINGS_FIELDS, Source, type Table, TOP_LEVEL_KEYS } from './config-schema.ts';
import { formatKey, type TomlPath } from './toml-lines.ts';
import { parseCidr } from './forward/trust.ts';

export { isDnsLabel };

const ENV_FN = (name: string): string => '$' + name;

function splitWith(cmd: string, fail: (msg: string) => never): string[] {
  const argv: string[] = [];
  for (const part of parseShell(cmd, ENV_FN)) {
    if (typeof part === 'string') argv.push(part);
    else if ('comment' in part) fail(`"#" starts a shell comment, which is not supported (quote it: "#${part.comment}")`);
    else if (part.op === 'glob') fail(`the glob ${JSON.stringify(part.pattern)} would need a shell to expand (quote it to pass it literally)`);
    else fail(`shell operator "${part.op}" is not supported (commands never run through a shell)`);
  }
  if (argv.length === 0) fail('the command is empty');
  return argv;
}

/** Splits `command` into argv like a shell would, but never runs a shell: operators are errors, $VAR stays literal. */
export function splitCommand(cmd: string, where: string): string[] {
  return splitWith(cmd, (msg) => {
    throw new TenementError('TEN_ERR_CONFIG_COMMAND', [where, msg], { key: where });
  });
}

/** Explicit path > env.TENEMENT_CONFIG > <cwd>/tenement.toml (if it exists). */
export function findConfigPath(opts: { path?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): string | undefined {
  const cwd = opts.cwd ?? process.cwd();
  const given = opts.path || (opts.env ?? process.env).TENEMENT_CONFIG;
  if (given) {
    const abs = path.resolve(cwd, given);
    if (!fs.statSync(abs, { throwIfNoEntry: false })?.isFile()) throw new TenementError('TEN_ERR_CONFIG_NOT_FOUND', [abs], { file: abs });
    return abs;
  }
  const local = path.join(cwd, 'tenement.toml');
  return fs.statSync(local, { throwIfNoEntry: false })?.isFile() ? local : undefined;
}

export interface LoadOptions {
  path?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line values that win over [settings]. */
  overrides?: { port?: number; domain?: string };
}

/** Finds, reads, parses and validates the config file, then applies the overrides. */
export function loadConfig(opts: LoadOptions = {}): TenementConfig {
  const file = findConfigPath(opts);
  if (file === undefined) {
    const wanted = path.join(opts.cwd ?? process.cwd(), 'tenement.toml');
    throw new TenementError('TEN_ERR_CONFIG_NOT_FOUND', [wanted], { file: wanted });
  }
  const config = parseConfig(fs.readFileSync(file, 'utf8'), file);
  const o = opts.overrides ?? {};
  const src: Source = new Source(undefined);
  if (o.port !== undefined) config.settings.port = src.value(o.port, SETTINGS_FIELDS.port, ['settings', 'port']) as number;
  if (o.domain !== undefined) config.settings.domain = src.domain(String(src.value(o.domain, SETTINGS_FIELDS.domain, ['settings', 'domain'])), ['settings', 'domain']);
  return config;
}

/** Parses and validates TOML text; `file` is used to resolve relative paths and in messages. */
export function parseConfig(text: string, file: string): TenementConfig {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  let doc: Table;
  try {
    doc = parseToml(text, { unsafeKeyBehaviour: 'throw' }) as Table;
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const reason = e.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
    const name = path.basename(abs);
    throw new TenementError('TEN_ERR_CONFIG_PARSE', [name, `${reason} (${name}:${e.line})`], { line: e.line, column: e.column, file: abs }, e);
  }
  const src: Source = new Source(abs, text);
  src.unknownKeys(doc, [], TOP_LEVEL_KEYS);

  const settings = src.fields(src.table(doc.settings, ['settings']), SETTINGS_FIELDS, ['settings']) as unknown as Settings;
  settings.domain = src.domain(settings.domain, ['settings', 'domain']);
  if (net.isIP(settings.listen) === 0) {
    src.fail('TEN_ERR_CONFIG_INVALID_VALUE', ['settings', 'listen'], ['settings.listen', `must be an IP address such as "0.0.0.0" or "127.0.0.1", got ${describe(settings.listen)}`]);
  }
  if (settings.backoff_max < settings.backoff_base) {
    const maxSet = isTable(doc.settings) && doc.settings.backoff_max !== undefined;
    if (maxSet) src.fail('TEN_ERR_CONFIG_OUT_OF_RANGE', ['settings', 'backoff_max'], ['settings.backoff_max', `must be at least settings.backoff_base (${settings.backoff_base}), got ${settings.backoff_max}`]);
    src.fail('TEN_ERR_CONFIG_OUT_OF_RANGE', ['settings', 'backoff_base'], ['settings.backoff_base', `must be at most settings.backoff_max (${settings.backoff_max}), got ${settings.backoff_base}`]);
  }
  settings.data_dir = path.resolve(dir, settings.data_dir);
  settings.trusted_proxies.forEach((cidr, i) => {
    if (parseCidr(cidr) === undefined) {
      src.fail('TEN_ERR_CONFIG_INVALID_VALUE', ['settings', 'trusted_proxies', i], ['settings.trusted_proxies', `has ${describe(cidr)}, which is not an IP address or CIDR such as "10.0.0.0/8" or "::1/128"`]);
    }
  });

  const services: Record<string, ServiceConfig> = {};
  for (const [name, raw] of Object.entries(src.table(doc.service, ['service']))) {
    services[name] = parseService(src, name, raw, dir);
  }

  const instances: Record<string, string[]> = {};
  for (const [name, ids] of Object.entries(src.table(doc.instances, ['instances']))) {
    const p = ['instances', name];
    if (!Object.hasOwn(services, name)) src.fail('TEN_ERR_CONFIG_INVALID_VALUE', p, [formatKey(p), `names service ${describe(name)}, which is not defined: add [service.${name}] or fix the name`]);
    const list = src.value(ids, { type: 'string[]' }, p) as string[];
    list.forEach((id, i) => {
      if (!isDnsLabel(id)) src.fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, i], [formatKey(p), `has an invalid instance id ${describe(id)}: it ${DNS_RULE}`]);
      if (list.indexOf(id) !== i) src.fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, i], [formatKey(p), `lists the instance id ${describe(id)} twice`]);
    });
    instances[name] = [...list];
  }

  return { path: abs, dir, settings, services, instances, plugins: parsePlugins(src, src.table(doc.plugins, ['plugins'])) };
}

function parseService(src: Source, name: string, raw: unknown, dir: string): ServiceConfig {
  const p = ['service', name];
  const key = formatKey(p);
  if (!isDnsLabel(name)) src.fail('TEN_ERR_CONFIG_INVALID_VALUE', p, [key, `is not a valid service name: it ${DNS_RULE}`]);
  const f = src.fields(src.table(raw, p), SERVICE_FIELDS, p);
  let argv: string[];
  if (f.command !== undefined && f.args !== undefined) {
    src.fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, 'args'], [key, 'sets both command and args: keep one of them']);
  } else if (typeof f.command === 'string') {
    argv = splitWith(f.command, (msg) => src.fail('TEN_ERR_CONFIG_COMMAND', [...p, 'command'], [`${key}.command`, msg]));
  } else if (Array.isArray(f.args)) {
    if (f.args.length === 0) src.fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, 'args'], [`${key}.args`, 'must not be empty']);
    argv = [...(f.args as string[])];
  } else {
    src.fail('TEN_ERR_CONFIG_MISSING_KEY', [...p, 'command'], [`${key}.command (or ${key}.args)`]);
  }
  const health = f.health as string | undefined;
  if (health !== undefined && !health.startsWith('/')) {
    src.fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, 'health'], [`${key}.health`, `must be a path starting with "/", got ${describe(health)}`]);
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries((f.env ?? {}) as Table)) {
    const ep = [...p, 'env', k];
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      src.fail('TEN_ERR_CONFIG_INVALID_TYPE', ep, [formatKey(ep), `a string, number or boolean, got ${describe(v)}`]);
    }
    if (k === '' || k.includes('=') || k.includes('\0')) src.fail('TEN_ERR_CONFIG_INVALID_VALUE', ep, [formatKey(ep), 'is not a valid environment variable name']);
    env[k] = String(v);
  }
  return {
    name,
    argv,
    workdir: path.resolve(dir, (f.workdir as string | undefined) ?? '.'),
    health,
    startup_timeout: f.startup_timeout as number,
    stop_timeout: f.stop_timeout as number,
    request_timeout: f.request_timeout as number,
    response_idle_timeout: f.response_idle_timeout as number,
    max_connections: f.max_connections as number,
    max_queue: f.max_queue as number,
    queue_timeout: f.queue_timeout as number,
    listen: f.listen as ServiceConfig['listen'],
    isolation: f.isolation as string,
    idle_timeout: f.idle_timeout as number,
    idle_action: f.idle_action as ServiceConfig['idle_action'],
    suspend_timeout: f.suspend_timeout as number,
    spawn_on_request: f.spawn_on_request as boolean,
    max_instances: f.max_instances as number,
    sticky: sticky(src, f.sticky as string | undefined, [...p, 'sticky']),
    restart: f.restart as ServiceConfig['restart'],
    weight: f.weight as number,
    env,
  };
}

function pluginEntry(src: Source, raw: unknown, p: TomlPath, allowOff: boolean): PluginEntry | false {
  const { use, ...options } = src.table(raw, p);
  const up = [...p, 'use'];
  if (use === undefined) src.fail('TEN_ERR_CONFIG_MISSING_KEY', up, [formatKey(up)]);
  if (use === false && allowOff) return false;
  if (typeof use !== 'string') src.fail('TEN_ERR_CONFIG_INVALID_TYPE', up, [formatKey(up), `a plugin name (string)${allowOff ? ' or false' : ''}, got ${describe(use)}`]);
  if (use.trim() === '') src.fail('TEN_ERR_CONFIG_INVALID_VALUE', up, [formatKey(up), 'must not be empty']);
  return { use, options, where: formatKey(p), line: src.lines?.lineOf(p) };
}

function parsePlugins(src: Source, t: Table): TenementConfig['plugins'] {
  const known = [...SLOTS, 'extra'] as readonly string[];
  const slots: Record<string, PluginEntry | false> = {};
  let extra: PluginEntry[] = [];
  for (const [slot, raw] of Object.entries(t)) {
    const p = ['plugins', slot];
    if (slot === 'extra') {
      if (!Array.isArray(raw)) src.fail('TEN_ERR_CONFIG_INVALID_TYPE', p, ['plugins.extra', `an array of tables ([[plugins.extra]]), got ${describe(raw)}`]);
      extra = raw.map((e, i) => pluginEntry(src, e, [...p, i], false) as PluginEntry);
    } else if (known.includes(slot)) {
      slots[slot] = pluginEntry(src, raw, p, true);
    } else {
      src.fail('TEN_ERR_PLUGIN_UNKNOWN_SLOT', p, [formatKey(p) + didYouMean(slot, known)]);
    }
  }
  return { slots, extra };
}

/** `sticky`: "cookie", or the name of a request header whose value identifies the user. */
function sticky(src: Source, v: string | undefined, p: TomlPath): string | undefined {
  if (v === undefined) return undefined;
  if (v !== 'cookie' && (!/^[A-Za-z0-9-]{1,64}$/.test(v) || v.toLowerCase() === 'cookie')) {
    src.fail('TEN_ERR_CONFIG_INVALID_VALUE', p, [formatKey(p), `must be "cookie" or a header name (letters, digits, -), got ${describe(v)}`]);
  }
  return v === 'cookie' ? v : v.toLowerCase();
}
