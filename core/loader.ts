// The plugin loader: config → ordered list of plugin definitions with validated options.
// Each slot takes the plugin named in [plugins.<slot>] (or the default), then [[plugins.extra]]
// load in order. Core never imports a plugin: built-ins are passed in by the caller (the CLI).
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import AjvMod from 'ajv';
import { TenementError } from './errors.ts';
import { isPluginDefinition, SLOTS, type PluginDefinition, type Slot } from './plugin.ts';
import type { PluginEntry, TenementConfig } from './types.ts';

const Ajv = ((AjvMod as unknown as { default?: unknown }).default ?? AjvMod) as typeof AjvMod.default;
const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false });

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
    const def = await importPlugin(use, config.dir, builtins);
    if (def.provides !== slot) {
      throw new TenementError('TEN_ERR_PLUGIN_SLOT_MISMATCH', [def.name, def.provides ?? 'no slot', slot], { key: where.where, line: where.line });
    }
    filled.set(slot, def.name);
    add({ def, options: validateOptions(def, where), slot, use });
  }
  for (const entry of config.plugins.extra) {
    const def = await importPlugin(entry.use, config.dir, builtins);
    if (def.provides !== undefined) {
      const holder = filled.get(def.provides);
      if (holder !== undefined) throw new TenementError('TEN_ERR_PLUGIN_SLOT_TAKEN', [def.provides, holder, def.name], { key: entry.where, line: entry.line });
      filled.set(def.provides, def.name);
    }
    add({ def, options: validateOptions(def, entry), slot: def.provides, use: entry.use });
  }
  return out;
}

/** A built-in name, a path (./x.js, ../x.js, /abs/x.js) relative to the config folder, or an npm package. */
export async function importPlugin(use: string, dir: string, builtins: Builtins): Promise<PluginDefinition> {
  const builtin = builtins.plugins[use];
  if (builtin) return builtin;
  const isPath = use.startsWith('./') || use.startsWith('../') || isAbsolute(use);
  let url: string;
  try {
    url = isPath ? pathToFileURL(resolve(dir, use)).href
      : pathToFileURL(createRequire(join(dir, 'package.json')).resolve(use)).href;
  } catch (err) {
    throw new TenementError('TEN_ERR_PLUGIN_NOT_FOUND', [use, (err as Error).message.split('\n')[0]]);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await withTimeout(import(url), use);
  } catch (err) {
    if (err instanceof TenementError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND') throw new TenementError('TEN_ERR_PLUGIN_NOT_FOUND', [use, (err as Error).message.split('\n')[0]]);
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
    if (extra.length > 0) throw new TenementError('TEN_ERR_PLUGIN_INVALID_OPTIONS', [def.name, `${entry.where}.${extra[0]}: this plugin takes no options`], { key: entry.where, line: entry.line });
    return options;
  }
  const validate = ajv.compile({ type: 'object', additionalProperties: false, ...def.options });
  if (!validate(options)) {
    const e = validate.errors![0];
    const prop = (e.params as { additionalProperty?: string }).additionalProperty;
    const key = `${entry.where}${e.instancePath.replaceAll('/', '.')}${prop ? `.${prop}` : ''}`;
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_OPTIONS', [def.name, `${key} ${prop ? 'is not an option' : e.message}`], { key, line: entry.line });
  }
  return options;
}

/** Reject when `p` takes longer than LOAD_TIMEOUT_MS. */
export function withTimeout<T>(p: Promise<T>, name: string, ms = LOAD_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TenementError('TEN_ERR_PLUGIN_LOAD_TIMEOUT', [name, ms])), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
