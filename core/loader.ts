// The plugin loader: config → ordered list of plugin definitions with validated options, checked
// as a set (names, slots, slot metadata, dependencies, the services' isolation levels). Each slot
// takes the plugin named in [plugins.<slot>] (or the default), then [[plugins.extra]] load in
// order. `ten serve` and `ten config` both call resolvePlugins, so they give the same verdict.
// Core never imports a plugin: built-ins are passed in by the caller (the CLI).
import { basename } from 'node:path';
import { TenementError } from './errors.ts';
import { importPlugin, LOAD_TIMEOUT_MS, withTimeout } from './import-plugin.ts';
import { validatePluginOptions } from './schema.ts';
import { formatKey, isDnsLabel } from './config-schema.ts';
import { listErrors, preview, type ErrorItem } from './schema.ts';
import { SLOTS, type PluginDefinition, type PluginInstance, type Slot } from './plugin.ts';
import type { PluginEntry, TenementConfig } from './types.ts';

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
  /** The config table it came from (a default's is made up: no line). */
  entry: PluginEntry;
}

/** A resolved plugin whose create() has run: what `ten serve` applies. */
export interface CreatedPlugin extends LoadedPlugin {
  instance: PluginInstance;
}

/**
 * Everything `ten serve` does with the plugins before it touches the data dir, and all that `ten
 * config` does: resolvePlugins(), then each plugin's create(options) (which must have no side
 * effects). A create() that throws is TEN_ERR_PLUGIN_FAILED (hook "create()") unless it threw a
 * TenementError. So both commands give the same verdict on a config.
 */
export async function preparePlugins(config: TenementConfig, builtins: Builtins): Promise<CreatedPlugin[]> {
  const out: CreatedPlugin[] = [];
  const errors: TenementError[] = [];
  for (const p of await resolvePlugins(config, builtins)) {
    await keep(errors, () => located(config, p.entry, () => { out.push({ ...p, instance: create(p) }); }));
  }
  throwAll(errors);
  return out;
}

/** `p.def.create(p.options)`, which must return a plugin instance synchronously. */
function create(p: LoadedPlugin): PluginInstance {
  let instance: unknown;
  try {
    instance = p.def.create(p.options);
  } catch (err) {
    throw pluginFailed(p.def.name, 'create()', err);
  }
  const i = instance as Partial<PluginInstance> | null;
  if (typeof i !== 'object' || i === null || typeof i.apply !== 'function' || (i.dispose !== undefined && typeof i.dispose !== 'function')) {
    const what = instance instanceof Promise ? 'a promise (create() is synchronous: do async work in apply())' : preview(instance);
    throw pluginFailed(p.def.name, 'create()', new Error(`returned ${what}, not a plugin instance { apply(ctx), dispose?() }`));
  }
  return i as PluginInstance;
}

/** Run one check of a verdict: a TenementError it throws is kept in `errors` (the next check
 *  still runs); anything else is a bug and propagates. */
async function keep(errors: TenementError[], fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof TenementError)) throw err;
    errors.push(err);
  }
}

/** `err` as thrown by a plugin's `step`: a TenementError as is, anything else as TEN_ERR_PLUGIN_FAILED. */
export function pluginFailed(plugin: string, step: string, err: unknown): TenementError {
  if (err instanceof TenementError) return err;
  return new TenementError('TEN_ERR_PLUGIN_FAILED', [plugin, step, (err as Error)?.message ?? String(err)], { plugin, hook: step }, err);
}

/**
 * Resolve every slot and extra plugin named by the config, in load order, and check them as a set.
 * Imports third-party modules but calls no create()/apply(). Reports every problem at once as one
 * TenementError (see throwAll): TEN_ERR_PLUGIN_*, or TEN_ERR_CONFIG_INVALID_VALUE for an isolation
 * level nobody serves.
 */
export async function resolvePlugins(config: TenementConfig, builtins: Builtins): Promise<LoadedPlugin[]> {
  const errors: TenementError[] = [];
  const check = (fn: () => unknown) => keep(errors, fn);
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
    await check(() => located(config, where, async () => {
      const def = checkDefinition(await importPlugin(use, config.dir, builtins), use);
      if (def.provides !== slot) throw new TenementError('TEN_ERR_PLUGIN_SLOT_MISMATCH', [def.name, def.provides ? `provides slot ${def.provides}` : 'provides no slot', slot]);
      filled.set(slot, def.name);
      add({ def, options: validateOptions(def, where), slot, use, entry: where });
    }));
  }
  for (const entry of config.plugins.extra) {
    await check(() => located(config, entry, async () => {
      const def = checkDefinition(await importPlugin(entry.use, config.dir, builtins), entry.use);
      if (def.provides !== undefined) {
        const holder = filled.get(def.provides);
        if (holder !== undefined) throw new TenementError('TEN_ERR_PLUGIN_SLOT_TAKEN', [def.provides, holder, def.name]);
        filled.set(def.provides, def.name);
      }
      add({ def, options: validateOptions(def, entry), slot: def.provides, use: entry.use, entry });
    }));
  }
  for (const p of out) {
    for (const dep of p.def.dependencies ?? []) {
      if (!names.has(dep)) await check(() => located(config, p.entry, () => { throw new TenementError('TEN_ERR_PLUGIN_DEPENDENCY_MISSING', [p.def.name, dep], { plugin: p.def.name }); }));
    }
  }
  errors.push(...isolationErrors(config, out));
  throwAll(errors);
  return out;
}

/**
 * Throws `errors` as one TenementError, if there are any: the first (in file order) with its code,
 * args and details, `details.errors` listing every one ({ code, message, key, line }), and a
 * message of one line per error (the first as it reads alone, the others indented with their code)
 * — the form config errors take (schema.ts ErrorList). An error that already lists several (a
 * table's options) contributes each of them.
 */
export function throwAll(errors: TenementError[]): void {
  if (errors.length === 0) return;
  const items = errors.flatMap((e) => (e.details.errors as ErrorItem[] | undefined)
    ?? [{ code: e.code, message: e.message, key: String(e.details.key ?? ''), line: e.details.line as number | undefined }]);
  if (items.length === 1) throw errors[0];
  const first = [...errors].sort((a, b) => ((a.details.line as number) ?? Infinity) - ((b.details.line as number) ?? Infinity))[0];
  throw listErrors(first, items);
}

/** What a definition declares beyond name and create(): a DNS-label name (it names a file and
 *  log lines), the metadata its slot requires, dependencies as names. */
function checkDefinition(def: PluginDefinition, use: string): PluginDefinition {
  const invalid = (why: string) => new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, why]);
  if (!isDnsLabel(def.name)) throw invalid(`name ${JSON.stringify(def.name)} must be a DNS label (a-z, 0-9, -), e.g. "my-balancer"`);
  if (def.provides === 'isolation') {
    const levels = (def as { levels?: unknown }).levels;
    if (!Array.isArray(levels) || levels.length === 0 || !levels.every((l) => typeof l === 'string' && isDnsLabel(l))) {
      throw invalid('an isolation plugin declares `levels`: the isolation values it serves, e.g. ["process"]');
    }
  }
  const deps = def.dependencies;
  if (deps !== undefined && (!Array.isArray(deps) || !deps.every((d) => typeof d === 'string'))) throw invalid('`dependencies` must be an array of plugin names');
  return def;
}

/** Every service's `isolation` level must be served by the isolation plugin, unless the slot is off. */
function isolationErrors(config: TenementConfig, plugins: LoadedPlugin[]): TenementError[] {
  const isolation = plugins.find((p) => p.slot === 'isolation')?.def;
  if (isolation?.provides !== 'isolation') return [];
  const errors: TenementError[] = [];
  for (const svc of Object.values(config.services)) {
    if (isolation.levels.includes(svc.isolation)) continue;
    const key = formatKey(['service', svc.name, 'isolation']);
    const line = config.lines?.[key] ?? config.lines?.[formatKey(['service', svc.name])];
    const err = new TenementError('TEN_ERR_CONFIG_INVALID_VALUE', [key,
      `is ${JSON.stringify(svc.isolation)}, but the isolation plugin ${isolation.name} serves ${isolation.levels.map((l) => `"${l}"`).join(', ')}`],
    { key, line, file: config.path });
    if (config.path && line !== undefined) err.message += ` (${basename(config.path)}:${line})`;
    errors.push(err);
  }
  return errors;
}

/** Run `fn`; a TenementError it throws is pointed at the config table, like config errors are, or
 *  at one of its options when its details name it (`{ option: 'listen' }`: key
 *  `plugins.metrics.listen`, that key's own line). */
export function located<T>(config: TenementConfig, entry: PluginEntry, fn: () => T): T {
  const point = (err: unknown): never => {
    if (!(err instanceof TenementError) || err.details.line !== undefined) throw err; // already located
    const option = typeof err.details.option === 'string' ? err.details.option : undefined;
    const where = option === undefined ? entry.where : `${entry.where}.${option}`;
    const line = (option === undefined ? undefined : entry.lines?.[option]) ?? entry.line;
    Object.assign(err.details, { key: err.details.key ?? where, line, file: config.path });
    err.message += ` (${where}${config.path && line !== undefined ? `, ${basename(config.path)}:${line}` : ''})`;
    throw err;
  };
  try {
    const r = fn();
    return r instanceof Promise ? (r.catch(point) as T) : r;
  } catch (err) {
    return point(err);
  }
}

/** The plugin's options with its schema's defaults filled in; every error at once, each at its own
 *  line (core/schema.ts). */
function validateOptions(def: PluginDefinition, entry: PluginEntry): Record<string, unknown> {
  return validatePluginOptions(def.name, def.options, entry);
}


export { importPlugin, withTimeout, LOAD_TIMEOUT_MS };
