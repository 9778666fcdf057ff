// The plugin loader: config → ordered list of plugin definitions with validated options.
// Each slot takes the plugin named in [plugins.<slot>] (or the default), then [[plugins.extra]]
// load in order. Core never imports a plugin: built-ins are passed in by the caller (the CLI).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import AjvMod from 'ajv';
import { TenementError } from './errors.ts';
import { isPluginDefinition, SLOTS, type PluginDefinition, type Slot } from './plugin.ts';
import type { PluginEntry, TenementConfig } from './types.ts';

const Ajv = ((AjvMod as unknown as { default?: unknown }).default ?? AjvMod) as typeof AjvMod.default;
/** One compiled validator per plugin definition (a fresh Ajv each, so schemas' $id never clash). */
const validators = new WeakMap<PluginDefinition, ReturnType<typeof compile>>();
const compile = (schema: object) => new Ajv({ useDefaults: true, allErrors: false, strict: false }).compile(schema);

export interface Builtins {
  plugins: Readonly<Record<string, PluginDefinition>>;
  defaults: Readonly<Partial<Record<Slot, string>>>;
}

export interface LoadedPlugin {
  def: PluginDefinition;
  options: Record<string, unknown>;
  slot?: Slot;
  /** What the config said (`use`), for messages. */
  use: string;
}

export const LOAD_TIMEOUT_MS = 5000;

/** Resolve every slot and extra plugin named by the config, in load order. */
export async function resolvePlugins(config: TenementConfig, builtins: Builtins): Promise<LoadedPlugin[]> {
  const out: LoadedPlugin[] = [];
  const filled = new Map<Slot, string>();
  const names = new Set<string>();
  const add = (p: LoadedPlugin) => {
    if (names.has(p.def.name)) throw new TenementError('TEN_ERR_PLUGIN_DUPLICATE_NAME', [p.def.name]);
    names.add(p.def.name);
    out.push(p);
  };
  for (const slot of SLOTS) {
    const entry = config.plugins.slots[slot];
    if (entry === false) continue;
    const use = entry?.use ?? builtins.defaults[slot];
    if (use === undefined) continue;
    const where: PluginEntry = entry ?? { use, options: {}, where: `plugins.${slot}` };
    await located(config, where, async () => {
      const def = await importPlugin(use, config.dir, builtins);
      if (def.provides !== slot) throw new TenementError('TEN_ERR_PLUGIN_SLOT_MISMATCH', [def.name, def.provides ? `provides slot ${def.provides}` : 'provides no slot', slot]);
      filled.set(slot, def.name);
      add({ def, options: validateOptions(def, where), slot, use });
    });
  }
  for (const entry of config.plugins.extra) {
    await located(config, entry, async () => {
      const def = await importPlugin(entry.use, config.dir, builtins);
      if (def.provides !== undefined) {
        const holder = filled.get(def.provides);
        if (holder !== undefined) throw new TenementError('TEN_ERR_PLUGIN_SLOT_TAKEN', [def.provides, holder, def.name]);
        filled.set(def.provides, def.name);
      }
      add({ def, options: validateOptions(def, entry), slot: def.provides, use: entry.use });
    });
  }
  return out;
}

/** Run `fn`; a TenementError it throws is pointed at the config table, like config errors are. */
async function located(config: TenementConfig, entry: PluginEntry, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof TenementError)) throw err;
    Object.assign(err.details, { key: err.details.key ?? entry.where, line: entry.line, file: config.path });
    err.message += ` (${entry.where}${config.path && entry.line !== undefined ? `, ${basename(config.path)}:${entry.line}` : ''})`;
    throw err;
  }
}

/** A built-in name, a path (./x.js, ../x.js, /abs/x.js) relative to the config folder, or an npm package. */
export async function importPlugin(use: string, dir: string, builtins: Builtins): Promise<PluginDefinition> {
  const builtin = builtins.plugins[use];
  if (builtin) return builtin;
  const isPath = use.startsWith('./') || use.startsWith('../') || isAbsolute(use);
  let url: string;
  try {
    url = pathToFileURL(isPath ? resolve(dir, use) : resolvePackage(use, dir)).href;
  } catch (err) {
    throw new TenementError('TEN_ERR_PLUGIN_NOT_FOUND', [use, firstLine(err)]);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await withTimeout(import(url), use);
  } catch (err) {
    if (err instanceof TenementError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND') throw new TenementError('TEN_ERR_PLUGIN_NOT_FOUND', [use, firstLine(err)]);
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, `import failed: ${(err as Error).message}`], {}, err);
  }
  const def = mod.default ?? mod;
  if (!isPluginDefinition(def)) {
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, 'the default export needs a string `name` and a `create(options)` function']);
  }
  if (def.provides !== undefined && !(SLOTS as readonly string[]).includes(def.provides)) {
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, `provides unknown slot "${def.provides}"`]);
  }
  return def;
}

function validateOptions(def: PluginDefinition, entry: PluginEntry): Record<string, unknown> {
  const options = structuredClone(entry.options);
  if (!def.options) {
    const extra = Object.keys(options);
    if (extra.length > 0) throw new TenementError('TEN_ERR_PLUGIN_INVALID_OPTIONS', [def.name, `${entry.where}.${extra[0]}: this plugin takes no options`], { key: `${entry.where}.${extra[0]}` });
    return options;
  }
  let validate = validators.get(def);
  if (!validate) validators.set(def, validate = compile({ type: 'object', additionalProperties: false, ...def.options }));
  if (!validate(options)) {
    const e = validate.errors![0];
    const prop = (e.params as { additionalProperty?: string }).additionalProperty;
    const key = `${entry.where}${e.instancePath.replaceAll('/', '.')}${prop ? `.${prop}` : ''}`;
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_OPTIONS', [def.name, `${key} ${prop ? 'is not an option' : e.message}`], { key });
  }
  return options;
}

/**
 * Where `import(name)` would load an npm package from, looking in `dir`'s node_modules chain.
 * require.resolve covers CommonJS and "main"; ESM-only packages ("exports" with only an
 * "import" condition) are resolved from their package.json here.
 */
function resolvePackage(name: string, dir: string): string {
  const req = createRequire(join(dir, 'package.json'));
  try {
    return req.resolve(name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw err;
  }
  for (const base of req.resolve.paths(name) ?? []) {
    const pkgFile = join(base, name, 'package.json');
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: unknown };
    const entry = exportTarget(pkg.exports);
    if (entry) return join(base, name, entry);
  }
  throw new Error(`Cannot find an importable entry point of package '${name}'`);
}

/** The "." export of a package for `import`, following import/node/default conditions. */
function exportTarget(exp: unknown): string | undefined {
  if (typeof exp === 'string') return exp;
  if (Array.isArray(exp)) return exp.map(exportTarget).find((e) => e !== undefined);
  if (typeof exp !== 'object' || exp === null) return undefined;
  const o = exp as Record<string, unknown>;
  if ('.' in o) return exportTarget(o['.']);
  for (const cond of ['import', 'node', 'default']) if (cond in o) return exportTarget(o[cond]);
  return undefined;
}

/** The first line of an error's message, without Node's "imported from <our own file>". */
function firstLine(err: unknown): string {
  return (err as Error).message.split('\n')[0].split(' imported from ')[0];
}

/** Reject when `p` takes longer than LOAD_TIMEOUT_MS. */
export function withTimeout<T>(p: Promise<T>, name: string, ms = LOAD_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TenementError('TEN_ERR_PLUGIN_LOAD_TIMEOUT', [name, ms])), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
