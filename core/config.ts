// tenement.toml → TenementConfig: find the file, parse it, check it against ConfigFileSchema (ajv,
// defaults filled in) and against the rules a schema cannot say (below), resolve paths. Values come
// from smol-toml; where each key is comes from toml-eslint-parser (config-schema.ts). Every error in
// the file is reported at once, as one TenementError (TEN_ERR_CONFIG_*, or TEN_ERR_TLS_* for the
// files [settings.tls] names: core/tls.ts) whose code, message and details { key, line, file } are
// those of the first error in the file and whose details.errors lists them all (core/schema.ts,
// ErrorList).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse as parseShell } from 'shell-quote';
import { parse as parseToml, TomlError } from 'smol-toml';
import { type ErrorCode, TenementError } from './errors.ts';
import type { PluginEntry, ServiceConfig, TenementConfig } from './types.ts';
import { type ConfigFile, ConfigFileSchema, DATE, describe, DNS_RULE, formatKey, isDnsLabel, SettingsSchema, spawnIdTest, TomlPositions, type TomlPath } from './config-schema.ts';
import { addConfigErrors, configValidator, ErrorList, compileSchema } from './schema.ts';
import { parseCidr } from './forward/trust.ts';
import { formatApiAddress, parseApiListen } from './api-listen.ts';
import { checkTls } from './tls.ts';

export { isDnsLabel };

const ENV_FN = (name: string): string => '$' + name;

/** argv from a command line split like a shell would, or why it cannot be without a shell. */
function splitArgv(cmd: string): string[] | { error: string } {
  const quoting = quotingError(cmd);
  if (quoting) return { error: quoting };
  const argv: string[] = [];
  for (const part of parseShell(cmd, ENV_FN)) {
    if (typeof part === 'string') argv.push(part);
    else if ('comment' in part) return { error: `"#" starts a shell comment, which is not supported (quote it: "#${part.comment}")` };
    else if (part.op === 'glob') return { error: `the glob ${JSON.stringify(part.pattern)} would need a shell to expand (quote it to pass it literally)` };
    else return { error: `shell operator "${part.op}" is not supported (commands never run through a shell)` };
  }
  return argv.length === 0 ? { error: 'the command is empty' } : argv;
}

/** Why `cmd`'s quoting is not complete, as a POSIX shell reads it (XCU 2.2: a backslash quotes the
 *  next character, single quotes end at the next one, double quotes at the next unescaped one), or
 *  undefined. shell-quote takes `node 'x` as `node x`; a shell would refuse it, and so do we. */
function quotingError(cmd: string): string | undefined {
  let open: { quote: string; at: number } | undefined;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (open?.quote === "'") { if (c === "'") open = undefined; continue; }
    if (c === '\\') {
      if (i + 1 === cmd.length) return 'it ends with a backslash that quotes nothing';
      i++;
    } else if (open && c === '"') open = undefined;
    else if (!open && (c === "'" || c === '"')) open = { quote: c, at: i + 1 };
  }
  return open && `the ${open.quote === "'" ? 'single' : 'double'} quote at character ${open.at} is never closed`;
}

/** Splits `command` into argv like a shell would, but never runs a shell: operators are errors
 *  (TEN_ERR_CONFIG_COMMAND naming `where`), $VAR stays literal. */
export function splitCommand(cmd: string, where: string): string[] {
  const r = splitArgv(cmd);
  if (!Array.isArray(r)) throw new TenementError('TEN_ERR_CONFIG_COMMAND', [where, r.error], { key: where });
  return r;
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

/** Finds, reads, parses and validates the config file, then applies the overrides (checked by the
 *  same schema; their errors say `(override)` instead of a line). */
export function loadConfig(opts: LoadOptions = {}): TenementConfig {
  const file = findConfigPath(opts);
  if (file === undefined) {
    const wanted = path.join(opts.cwd ?? process.cwd(), 'tenement.toml');
    throw new TenementError('TEN_ERR_CONFIG_NOT_FOUND', [wanted], { file: wanted });
  }
  const config = parseConfig(fs.readFileSync(file, 'utf8'), file);
  const list = new ErrorList(undefined, 'override');
  for (const [key, value] of Object.entries(opts.overrides ?? {}) as Array<['port' | 'domain', unknown]>) {
    if (value === undefined) continue;
    const schema = SettingsSchema.properties[key];
    const validate = compileSchema(schema);
    if (!validate(value)) addConfigErrors(list, validate.errors!, schema, value, () => undefined, ['settings', key]);
    else if (key === 'port') config.settings.port = value as number;
    else config.settings.domain = hostName(list, value as string, ['settings', 'domain']);
  }
  list.throwIfAny();
  return config;
}

type Fail = (code: ErrorCode, p: TomlPath, args: string[]) => void;

/** Parses and validates TOML text; `file` is used to resolve relative paths and in messages.
 *  Throws TEN_ERR_CONFIG_PARSE for bad TOML, else every error found (see the top of this file). */
export function parseConfig(text: string, file: string): TenementConfig {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text, { unsafeKeyBehaviour: 'throw' }) as Record<string, unknown>;
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const reason = e.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
    const name = path.basename(abs);
    throw new TenementError('TEN_ERR_CONFIG_PARSE', [name, `${reason} (${name}:${e.line})`], { line: e.line, column: e.column, file: abs }, e);
  }
  const at = new TomlPositions(text);
  const list = new ErrorList(abs);
  const fail: Fail = (code, p, args) => list.add(code, formatKey(p), args, at.lineOf(p));
  const ok = (p: TomlPath) => !list.has(formatKey(p));
  for (const k of ['settings', 'service', 'instances']) if (k in doc) doc[k] = hideDates(doc[k]);
  const maxSet = isTable(doc.settings) && doc.settings.backoff_max !== undefined;

  const validate = configValidator();
  if (!validate(doc)) addConfigErrors(list, validate.errors!, ConfigFileSchema, doc, (p) => at.lineOf(p));
  // Rules the schema cannot say. Where the schema already failed a value (ok() is false) it is not
  // looked at again, and nothing below trusts a type the schema has not confirmed.
  const f = doc as ConfigFile;
  const s = f.settings;
  const sp = (k: string): TomlPath => ['settings', k];
  if (ok(sp('domain'))) s.domain = hostName(list, s.domain, sp('domain'), at);
  if (ok(sp('listen')) && net.isIP(s.listen) === 0) {
    fail('TEN_ERR_CONFIG_INVALID_VALUE', sp('listen'), ['settings.listen', `must be an IP address such as "0.0.0.0" or "127.0.0.1", got ${describe(s.listen)}`]);
  }
  if (ok(sp('backoff_max')) && ok(sp('backoff_base')) && s.backoff_max < s.backoff_base) {
    if (maxSet) fail('TEN_ERR_CONFIG_OUT_OF_RANGE', sp('backoff_max'), ['settings.backoff_max', `must be at least settings.backoff_base (${s.backoff_base}), got ${s.backoff_max}`]);
    else fail('TEN_ERR_CONFIG_OUT_OF_RANGE', sp('backoff_base'), ['settings.backoff_base', `must be at most settings.backoff_max (${s.backoff_max}), got ${s.backoff_base}`]);
  }
  if (ok(sp('data_dir'))) s.data_dir = path.resolve(dir, s.data_dir);
  if (s.api_listen !== undefined && ok(sp('api_listen'))) {
    const a = parseApiListen(s.api_listen, dir);
    if (typeof a === 'string') fail('TEN_ERR_CONFIG_INVALID_VALUE', sp('api_listen'), ['settings.api_listen', a]);
    else s.api_listen = formatApiAddress(a); // a Unix socket's path made absolute
  }
  const tlsOk = s.tls !== undefined && ['cert', 'key', 'port'].every((k) => ok(['settings', 'tls', k]));
  if (s.tls !== undefined && tlsOk) checkTls(s.tls, s, dir, (code, k, args) => fail(code, ['settings', 'tls', k], args));
  if (ok(sp('trusted_proxies'))) {
    s.trusted_proxies.forEach((cidr, i) => {
      if (parseCidr(cidr) === undefined) fail('TEN_ERR_CONFIG_INVALID_VALUE', ['settings', 'trusted_proxies', i], ['settings.trusted_proxies', `has ${describe(cidr)}, which is not an IP address or CIDR such as "10.0.0.0/8" or "::1/128"`]);
    });
  }

  const services: Record<string, ServiceConfig> = {};
  if (ok(['service'])) for (const [name, raw] of Object.entries(f.service)) services[name] = service(fail, ok, name, raw, dir);

  const instances: Record<string, string[]> = {};
  if (ok(['instances'])) {
    for (const [name, ids] of Object.entries(f.instances)) {
      const p = ['instances', name];
      if (ok(p)) {
        ids.forEach((id, i) => {
          if (!isDnsLabel(id)) fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, i], [formatKey(p), `has an invalid instance id ${describe(id)}: it ${DNS_RULE}`]);
          else if (ids.indexOf(id) !== i) fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, i], [formatKey(p), `lists the instance id ${describe(id)} twice`]);
        });
      }
      if (ok(['service']) && !Object.hasOwn(f.service, name)) fail('TEN_ERR_CONFIG_INVALID_VALUE', p, [formatKey(p), `names service ${describe(name)}, which is not defined: add [service.${name}] or fix the name`]);
      instances[name] = Array.isArray(ids) ? [...ids] : [];
    }
  }
  list.throwIfAny();
  return { path: abs, dir, settings: { ...s }, services, instances, plugins: plugins(f.plugins, at, abs), lines: at.under([]) };
}

/** [service.NAME] → ServiceConfig, reporting what the schema cannot check. Only used when no error was found. */
function service(fail: Fail, ok: (p: TomlPath) => boolean, name: string, raw: ConfigFile['service'][string], dir: string): ServiceConfig {
  const p = ['service', name];
  const key = formatKey(p);
  let argv: string[] = [];
  if (raw.command !== undefined && raw.args !== undefined) {
    fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, 'args'], [key, 'sets both command and args: keep one of them']);
  } else if (raw.command !== undefined) {
    const r = ok([...p, 'command']) ? splitArgv(raw.command) : [];
    if (Array.isArray(r)) argv = r;
    else fail('TEN_ERR_CONFIG_COMMAND', [...p, 'command'], [`${key}.command`, r.error]);
  } else if (raw.args !== undefined) {
    argv = [...raw.args];
  } else if (ok(p)) {
    fail('TEN_ERR_CONFIG_MISSING_KEY', [...p, 'command'], [`${key}.command (or ${key}.args)`]);
  }
  const env: Record<string, string> = {};
  for (const [k, v] of ok([...p, 'env']) ? Object.entries(raw.env) : []) {
    if (k === '' || k.includes('=') || k.includes('\0')) fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, 'env', k], [formatKey([...p, 'env', k]), 'is not a valid environment variable name']);
    env[k] = typeof v === 'object' ? '' : String(v); // not a scalar: the schema has reported it
  }
  const sticky = raw.sticky;
  if (sticky !== undefined && ok([...p, 'sticky']) && sticky !== 'cookie' && (!/^[A-Za-z0-9-]{1,64}$/.test(sticky) || sticky.toLowerCase() === 'cookie')) {
    fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, 'sticky'], [`${key}.sticky`, `must be "cookie" or a header name (letters, digits, -), got ${describe(sticky)}`]);
  }
  const ids = raw.spawn_ids;
  if (typeof ids === 'string' && ok([...p, 'spawn_ids'])) {
    try {
      spawnIdTest(ids);
    } catch (e) {
      fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, 'spawn_ids'], [`${key}.spawn_ids`, `is not a valid regular expression: ${(e as Error).message}`]);
    }
  } else if (Array.isArray(ids) && ok([...p, 'spawn_ids'])) {
    ids.forEach((id, i) => {
      if (!isDnsLabel(id)) fail('TEN_ERR_CONFIG_INVALID_VALUE', [...p, 'spawn_ids', i], [`${key}.spawn_ids`, `has an invalid instance id ${describe(id)}: it ${DNS_RULE}`]);
    });
  }
  if (!isDnsLabel(name)) fail('TEN_ERR_CONFIG_INVALID_VALUE', p, [key, `is not a valid service name: it ${DNS_RULE}`]);
  const { command: _c, args: _a, env: _e, workdir, ...keys } = raw;
  return {
    ...keys,
    name,
    argv,
    workdir: path.resolve(dir, typeof workdir === 'string' ? workdir : '.'),
    health: raw.health,
    // "cookie", or the name of a request header whose value identifies the user (lowercased)
    sticky: typeof sticky === 'string' && sticky !== 'cookie' ? sticky.toLowerCase() : sticky,
    env,
  };
}

/** [plugins.SLOT] and [[plugins.extra]] tables → PluginEntry (use, options, where they are). */
function plugins(t: ConfigFile['plugins'], at: TomlPositions, file: string): TenementConfig['plugins'] {
  const entry = (raw: { use: string } & Record<string, unknown>, p: TomlPath): PluginEntry => {
    const { use, ...options } = raw;
    const lines = at.under(p);
    delete lines.use;
    return { use, options, where: formatKey(p), line: at.lineOf(p), lines, file };
  };
  const slots: Record<string, PluginEntry | false> = {};
  for (const [slot, raw] of Object.entries(t) as unknown as Array<[string, { use: string | false }]>) {
    if (slot !== 'extra') slots[slot] = raw.use === false ? false : entry(raw as { use: string }, ['plugins', slot]);
  }
  return { slots, extra: (t.extra ?? []).map((raw, i) => entry(raw, ['plugins', 'extra', i])) };
}

/** A host name made of DNS labels, lowercased; else an error about `p`. */
function hostName(list: ErrorList, v: string, p: TomlPath, at?: TomlPositions): string {
  const d = v.toLowerCase();
  if (d.length > 253 || !d.split('.').every(isDnsLabel)) {
    list.add('TEN_ERR_CONFIG_INVALID_VALUE', formatKey(p), [formatKey(p), `must be a host name made of dot-separated DNS labels (a-z, 0-9, -), got ${describe(v)}`], at?.lineOf(p));
  }
  return d;
}

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** TOML dates and times (accepted by no key of tenement.toml) → DATE, which fails every type check. */
function hideDates(v: unknown): unknown {
  if (v instanceof Date) return DATE;
  if (Array.isArray(v)) v.forEach((x, i) => { v[i] = hideDates(x); });
  else if (isTable(v)) for (const k of Object.keys(v)) v[k] = hideDates(v[k]);
  return v;
}
