// One schema source: the config file, plugins' options and the management API's requests are JSON
// Schema (built with TypeBox), checked by the one ajv below. This module compiles schemas once and
// turns ajv's errors into TenementErrors: all the errors of a config file or an options table at
// once (ErrorList), or the coded 400 of a request (requestValidator).
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { Type } from '@sinclair/typebox';
import AjvMod, { type ErrorObject, type ValidateFunction } from 'ajv';
import { type ConfigFile, ConfigFileSchema, describe, didYouMean, DNS_LABEL, formatKey, type TomlPath } from './config-schema.ts';
import { type ErrorCode, TenementError } from './errors.ts';
import type { PluginEntry } from './types.ts';

const Ajv = ((AjvMod as unknown as { default?: unknown }).default ?? AjvMod) as typeof AjvMod.default;

/** The one ajv: every error (not the first), `default`s filled in, no type coercion, NaN and
 *  Infinity are not numbers; unknown keywords are ignored (plugins bring their own schemas) and a
 *  schema is never kept by its $id (two plugins may reuse one). `verbose`: errors carry the value
 *  and schema that failed. `errorCode` is an annotation: the TEN_ERR_* code a failure of that
 *  value is reported with (see requestValidator). */
export const ajv = newAjv();

/** An ajv with the options and keywords of the one above; scripts/build-validators.ts compiles
 *  the config file's schema ahead of time with one (`extra`: `{ code: { source: true } }`). */
export function newAjv(extra: Record<string, unknown> = {}): InstanceType<typeof Ajv> {
  const a = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: false, strict: false, strictNumbers: true, verbose: true, addUsedSchema: false, ...extra });
  a.addKeyword({ keyword: 'errorCode', schemaType: 'string' });
  return a;
}

/** A service name or instance id in an API request: a DNS label, else 400 TEN_ERR_API_INVALID_NAME
 *  (`kind` names it in the message). Plugins' routes use it too (it is on the public surface). */
export const NameSchema = (kind: 'service' | 'id') => Type.String({ pattern: DNS_LABEL.source, title: kind, errorCode: 'TEN_ERR_API_INVALID_NAME' });
/** A traffic weight in an API request: a whole number from 0 to 100, else 400 TEN_ERR_API_INVALID_WEIGHT. */
export const WeightSchema = Type.Integer({ minimum: 0, maximum: 100, errorCode: 'TEN_ERR_API_INVALID_WEIGHT' });

const compiled = new WeakMap<object, ValidateFunction>();

/** Makes `validate` (compiled ahead of time from `schema` by an ajv of newAjv()) the validator
 *  compileSchema returns for `schema`. */
export function usePrecompiled(schema: object, validate: ValidateFunction): void {
  compiled.set(schema, validate);
}

/** Compiles `schema` once (cached by object identity). The validator fills in defaults in place. */
export function compileSchema<T = unknown>(schema: object): ValidateFunction<T> {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, v = ajv.compile(schema));
  return v as ValidateFunction<T>;
}

/** The validator of ConfigFileSchema. In the bundle, the one scripts/build-cli.mjs compiled ahead
 *  of time next to it (config-validator.cjs): compiling the schema took about 100 ms of every
 *  start of `ten`. From the TypeScript sources, or without that file, it is compiled here. */
export function configValidator(): ValidateFunction<ConfigFile> {
  if (!compiled.has(ConfigFileSchema) && !import.meta.url.endsWith('.ts')) {
    try {
      const mod = createRequire(import.meta.url)('./config-validator.cjs') as { default?: ValidateFunction };
      usePrecompiled(ConfigFileSchema, mod.default ?? (mod as unknown as ValidateFunction));
    } catch { /* not built: compiled below */ }
  }
  return compileSchema<ConfigFile>(ConfigFileSchema);
}

/** One error of a config file or an options table, as `details.errors` lists them. */
export interface ErrorItem {
  code: ErrorCode;
  /** The whole message, ending with ` (tenement.toml:LINE)`. */
  message: string;
  /** The dotted key, e.g. `service.api.weight`. */
  key: string;
  line?: number;
}

/** `items` in file order (stable; items without a line last). */
function byLine<T extends { line?: number }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}

/**
 * `err` made the carrier of several errors: `details.errors` lists `items` in file order and its
 * message has one line per item, the first as it reads alone, the others indented with their code.
 * The one format of a multi-error verdict (config files, options tables, the plugin loader).
 */
export function listErrors(err: TenementError, items: readonly ErrorItem[]): TenementError {
  const sorted = byLine(items);
  err.details.errors = sorted;
  err.message = [sorted[0].message, ...sorted.slice(1).map((i) => `  ${i.code}: ${i.message}`)].join('\n');
  return err;
}

/**
 * Collects the errors of one file, one per key (the first said about a key wins), and throws them
 * as one TenementError: code, args, key and line of the first in file order; `details` =
 * { key, line, file, errors: ErrorItem[] }; its message has one line per error (the first as a
 * single error reads, the others indented after it with their code).
 */
export class ErrorList {
  private readonly items: Array<ErrorItem & { args: ReadonlyArray<string | number> }> = [];

  /** `file`: absolute path the keys are in; `origin`: what messages name instead (default: its base name). */
  constructor(readonly file: string | undefined, private readonly origin = file === undefined ? undefined : basename(file)) {}

  /** Records an error about `key`; `line` is where it is in the file. */
  add(code: ErrorCode, key: string, args: ReadonlyArray<string | number>, line?: number): void {
    if (this.items.some((i) => i.key === key)) return;
    const where = this.origin === undefined ? '' : ` (${this.origin}${line === undefined ? '' : `:${line}`})`;
    this.items.push({ code, args, key, line, message: new TenementError(code, args).message + where });
  }

  /** True when `key`, or a table or array it is in, already has an error. */
  has(key: string): boolean {
    return this.items.some((i) => key === i.key || key.startsWith(i.key + '.') || key.startsWith(i.key + '['));
  }

  /** Throws the collected errors, if any, as described above. */
  throwIfAny(): void {
    if (this.items.length === 0) return;
    const [first] = byLine(this.items);
    const err = new TenementError(first.code, first.args, { key: first.key, line: first.line, file: this.file });
    throw listErrors(err, this.items.map(({ code, message, key, line }) => ({ code, message, key, line })));
  }
}

/** An error's instancePath as a path into `data` (array positions as numbers). */
function pathIn(data: unknown, pointer: string): TomlPath {
  const out: Array<string | number> = [];
  let node = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out.push(Array.isArray(node) ? Number(seg) : seg);
    node = (node as Record<string, unknown> | undefined)?.[seg];
  }
  return out;
}

/** The schemas along an error's schemaPath from `root` down: where annotations are looked up. */
function schemasAlong(root: object, schemaPath: string): Array<Record<string, unknown>> {
  const out = [root as Record<string, unknown>];
  let node: unknown = root;
  for (const raw of schemaPath.split('/').slice(1)) {
    node = (node as Record<string, unknown> | undefined)?.[decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~')];
    if (node !== null && typeof node === 'object' && !Array.isArray(node)) out.push(node as Record<string, unknown>);
  }
  return out;
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a number', integer: 'a whole number', string: 'a string', boolean: 'true or false', array: 'an array', object: 'a table',
};

/** "between 0 and 100", "at least 1", "greater than 0": the range a number schema allows. */
function range(s: Record<string, unknown>): string {
  const { minimum: min, maximum: max, exclusiveMinimum: above, exclusiveMaximum: below } = s;
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  const parts = [min !== undefined && `at least ${min}`, above !== undefined && `greater than ${above}`,
    max !== undefined && `at most ${max}`, below !== undefined && `less than ${below}`];
  return parts.filter(Boolean).join(' and ');
}

/**
 * Adds ajv's errors for (part of) a config file to `list`, as TEN_ERR_CONFIG_* errors naming the
 * dotted key and its line: wrong type → _INVALID_TYPE, outside minimum/maximum → _OUT_OF_RANGE,
 * enum, pattern or emptiness → _INVALID_VALUE, required → _MISSING_KEY, additionalProperties →
 * _UNKNOWN_KEY with a did-you-mean (or the table schema's `errorCode`). `root` is the schema and
 * `data` the value validated, found at `base` in the file.
 */
export function addConfigErrors(list: ErrorList, errors: ErrorObject[], root: object, data: unknown, lineOf: (p: TomlPath) => number | undefined, base: TomlPath = []): void {
  const unions = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath + '/');
  for (const e of errors) {
    // inside a union, the branches' type mismatches are said once by the union's own error
    if ((e.keyword === 'type' || e.keyword === 'const') && unions.some((u) => e.schemaPath.startsWith(u))) continue;
    const p = [...base, ...pathIn(data, e.instancePath)];
    const s = e.parentSchema as Record<string, unknown>;
    const add = (code: ErrorCode, at: TomlPath, ...more: string[]) => list.add(code, formatKey(at), [formatKey(at), ...more], lineOf(at));
    const got = `got ${describe(e.data)}`;
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'type' || e.keyword === 'anyOf') {
      const i = p.at(-1);
      if (typeof i === 'number' && e.keyword === 'type') { // an element: the array's type is what is wrong
        const array = schemasAlong(root, e.schemaPath).reverse().find((x) => x.type === 'array');
        const noun = (array?.description as string | undefined) ?? (params.type === 'string' ? 'an array of strings' : 'an array of tables');
        add('TEN_ERR_CONFIG_INVALID_TYPE', p.slice(0, -1), `${noun}, ${got} at [${i}]`);
      } else {
        add('TEN_ERR_CONFIG_INVALID_TYPE', p, `${(s.description as string | undefined) ?? TYPE_NAMES[String(params.type)] ?? 'another type'}, ${got}`);
      }
    } else if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(e.keyword)) {
      add('TEN_ERR_CONFIG_OUT_OF_RANGE', p, `must be ${range(s)}, got ${String(e.data)}`);
    } else if (e.keyword === 'enum') {
      add('TEN_ERR_CONFIG_INVALID_VALUE', p, `must be one of ${(s.enum as unknown[]).map((x) => `"${String(x)}"`).join(', ')}, ${got}`);
    } else if (e.keyword === 'required') {
      add('TEN_ERR_CONFIG_MISSING_KEY', [...p, String(params.missingProperty)]);
    } else if (e.keyword === 'additionalProperties') {
      const at = [...p, String(params.additionalProperty)];
      const hint = didYouMean(String(params.additionalProperty), Object.keys((s.properties as object | undefined) ?? {}));
      if (s.errorCode === 'TEN_ERR_PLUGIN_UNKNOWN_SLOT') list.add('TEN_ERR_PLUGIN_UNKNOWN_SLOT', formatKey(at), [formatKey(at) + hint], lineOf(at));
      else add('TEN_ERR_CONFIG_UNKNOWN_KEY', at, hint);
    } else if ((e.keyword === 'minItems' || e.keyword === 'minLength') && params.limit === 1) {
      add('TEN_ERR_CONFIG_INVALID_VALUE', p, 'must not be empty');
    } else {
      add('TEN_ERR_CONFIG_INVALID_VALUE', p, `${s.description === undefined ? e.message : `must be ${String(s.description)}`}, ${got}`);
    }
  }
}

const optionSchemas = new WeakMap<object, object>();

/**
 * Validates a plugin's options table (entry.options: everything but `use`) against the plugin's
 * `options` schema (TypeBox or plain JSON Schema, applied as {type: 'object',
 * additionalProperties: false, ...schema}) and returns a copy with the schema's defaults filled in;
 * without a schema the plugin takes no options. Throws TEN_ERR_PLUGIN_INVALID_OPTIONS listing every
 * error, each naming its key (`plugins.balancer.max_inflight`) and its own line (entry.lines, else
 * the table's line), e.g. `invalid options for plugin my-balancer: plugins.balancer.max_inflight
 * must be >= 1 (tenement.toml:7)`.
 */
export function validatePluginOptions(plugin: string, schema: object | undefined, entry: PluginEntry): Record<string, unknown> {
  const options = structuredClone(entry.options);
  const list = new ErrorList(entry.file);
  const add = (rel: TomlPath, what: string) => {
    const key = rel.length === 0 ? entry.where : `${entry.where}${typeof rel[0] === 'number' ? '' : '.'}${formatKey(rel)}`;
    let line: number | undefined; // the key's own line, else the nearest enclosing key's, else the table's
    for (let n = rel.length; n > 0 && line === undefined; n--) line = entry.lines?.[formatKey(rel.slice(0, n))];
    list.add('TEN_ERR_PLUGIN_INVALID_OPTIONS', key, [plugin, `${key} ${what}`], line ?? entry.line);
  };
  if (schema === undefined) {
    for (const k of Object.keys(options)) add([k], 'is not an option: this plugin takes no options');
  } else {
    let wrapped = optionSchemas.get(schema);
    if (!wrapped) optionSchemas.set(schema, wrapped = { type: 'object', additionalProperties: false, ...schema });
    const validate = compileSchema(wrapped);
    for (const e of validate(options) ? [] : validate.errors!) {
      const rel = pathIn(options, e.instancePath);
      const params = e.params as Record<string, unknown>;
      const known = Object.keys(((e.parentSchema as { properties?: object }).properties) ?? {});
      if (e.keyword === 'additionalProperties') add([...rel, String(params.additionalProperty)], `is not an option${didYouMean(String(params.additionalProperty), known)}`);
      else if (e.keyword === 'required') add([...rel, String(params.missingProperty)], 'is required');
      else if (e.keyword === 'enum') add(rel, `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${describe(e.data)}`);
      else add(rel, e.message ?? 'is invalid');
    }
  }
  list.throwIfAny();
  return options;
}

/** A value as a short JSON-like text for messages; bounded in depth and length whatever it is. */
export function preview(v: unknown, depth = 0): string {
  if (Array.isArray(v)) return depth >= 3 ? '[…]' : `[${v.slice(0, 5).map((x) => preview(x, depth + 1)).join(',')}${v.length > 5 ? ',…' : ''}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).slice(0, 5);
    return depth >= 3 ? '{…}' : `{${keys.map((k) => `${JSON.stringify(k)}:${preview((v as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
  }
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/**
 * A fastify validatorCompiler (`app.setValidatorCompiler(requestValidator)`): checks one part of a
 * request (params, querystring, body) with the shared ajv. A failure is a 400 TenementError with
 * the `errorCode` the failing value's schema names (nearest on its schema path; its `title` names
 * the value, its `description` says what is expected): TEN_ERR_API_INVALID_WEIGHT [value],
 * TEN_ERR_API_INVALID_NAME [title, value], any other code [title or key, "value: description"].
 * Without one it is TEN_ERR_API_BAD_REQUEST listing every error.
 */
export function requestValidator({ schema, httpPart }: { schema: object; httpPart?: string }): (data: unknown) => true | { error: TenementError } {
  const validate = compileSchema(schema);
  return (data) => (validate(data) ? true : { error: requestError(schema, validate.errors!, data, httpPart ?? 'body') });
}

function requestError(root: object, errors: ErrorObject[], data: unknown, part: string): TenementError {
  const [e] = errors;
  const inward = schemasAlong(root, e.schemaPath).slice(1).reverse(); // the failing schema first
  const note = (k: string) => inward.find((s) => typeof s[k] === 'string')?.[k] as string | undefined;
  const code = note('errorCode') as ErrorCode | undefined;
  const prop = e.instancePath.split('/')[1]?.replaceAll('~1', '/').replaceAll('~0', '~');
  const value = preview(prop === undefined ? data : (data as Record<string, unknown>)[prop]);
  const what = note('title') ?? prop ?? part;
  if (code === 'TEN_ERR_API_INVALID_WEIGHT') return new TenementError(code, [value]);
  if (code === 'TEN_ERR_API_INVALID_NAME') return new TenementError(code, [what, value]);
  if (code !== undefined) return new TenementError(code, [what, `${value}: ${note('description') ?? e.message}`]);
  return new TenementError('TEN_ERR_API_BAD_REQUEST', [errors.map((x) => `${part}${x.instancePath} ${x.message}`).join(', ')]);
}
