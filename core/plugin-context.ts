// The narrowed context each plugin gets in apply(ctx): tap-only hook views that stamp the plugin's
// name on every tap, a read-only registry view, the InstanceControl requests, the plugin's own
// store and the frozen config. What a plugin may not do fails with TEN_ERR_PLUGIN_FORBIDDEN,
// naming the plugin and what it tried, at the moment it tries it.
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { TenementError } from './errors.ts';
import { CORE_TAP, type HookName, type Hooks } from './hooks.ts';
import type { DeepReadonly, InstanceControl, PluginContext, PluginHooks, PluginStore, RegistryView, TapOptions } from './plugin.ts';
import type { Registry } from './registry.ts';
import type { EventInput, TenementConfig } from './types.ts';

export interface ContextDeps {
  hooks: Hooks;
  registry: Registry;
  control: InstanceControl;
  /** The config in force, read at each access (a reload replaces it: core/live-config.ts). */
  readonly config: DeepReadonly<TenementConfig>;
  log: Logger;
  /** The plugin's store (opened on first use). */
  store(name: string): PluginStore;
  /** Where registered routes are collected until the listener mounts them. */
  routes: PluginRoutes;
}

/** Routes plugins registered, each with its plugin, until the listener mounts them (then `mounted`). */
export interface PluginRoutes {
  list: Array<{ plugin: string; fn: FastifyPluginAsync; public: boolean }>;
  mounted: boolean;
}

const forbidden = (plugin: string, what: string) => new TenementError('TEN_ERR_PLUGIN_FORBIDDEN', [plugin, what], { plugin });

/** Define members that exist only to refuse: a JS plugin gets a coded error instead of
 *  "x is not a function"; the TypeScript types do not have them at all. */
function refuse(target: object, plugin: string, members: Record<string, string>): void {
  for (const [member, what] of Object.entries(members)) {
    Object.defineProperty(target, member, { enumerable: false, value: () => { throw forbidden(plugin, what); } });
  }
}

/** The context for plugin `name`. */
export function createPluginContext(name: string, d: ContextDeps): PluginContext {
  const hooks = Object.fromEntries(Object.keys(d.hooks).map((h) => [h, tapView(d.hooks, h as HookName, name)]));
  const registry = only<RegistryView>(d.registry, ['get', 'require', 'list']);
  const writes = ['create', 'remove', 'setWeight', 'setWeights', 'transition'];
  refuse(registry, name, Object.fromEntries(writes.map((m) => [m, `write the registry directly (registry.${m}): ask ctx.instances.${m === 'setWeight' ? 'setWeights' : m} instead`])));
  let store: PluginStore | undefined;
  return Object.freeze({
    name,
    hooks: Object.freeze(hooks) as unknown as PluginHooks,
    registry: Object.freeze(registry),
    // the supervisor's InstanceControl methods, and nothing else of it (not its deps, not stopAll)
    instances: Object.freeze(only<InstanceControl>(d.control, CONTROL)),
    get store() { return store ??= d.store(name); },
    // the config in force when read: a plugin reads ctx.config when it needs it, not once in apply()
    get config() { return d.config; },
    log: d.log.child({ plugin: name }),
    dir: d.config.dir,
    emit: (e: EventInput) => {
      const bad = (['kind', 'service', 'message'] as const).find((k) => typeof e?.[k] !== 'string' || e[k] === '');
      if (bad) throw new TenementError('TEN_ERR_PLUGIN_FAILED', [name, 'emit()', `needs a non-empty string "${bad}"`], { plugin: name });
      d.hooks.event.call({ ...e, at: Date.now(), source: name });
    },
    http: Object.freeze({
      register: (fn: FastifyPluginAsync, opts?: { public?: boolean }) => {
        if (typeof fn !== 'function') throw new TenementError('TEN_ERR_PLUGIN_FAILED', [name, 'http.register()', `needs a fastify plugin, async (app) => { app.get(…) }, got ${typeof fn}`], { plugin: name });
        if (d.routes.mounted) throw forbidden(name, 'register routes after apply(): the management API is already listening (register them in apply())');
        d.routes.list.push({ plugin: name, fn, public: opts?.public === true });
      },
    }),
  });
}

const CONTROL: ReadonlyArray<keyof InstanceControl> = ['start', 'stop', 'probe', 'suspend', 'resume', 'create', 'remove', 'setWeights', 'transition'];

/** A new object with just `methods` of `impl`, bound to it: the narrowing of a view. */
function only<T>(impl: object, methods: ReadonlyArray<keyof T>): T {
  const src = impl as Record<keyof T, (...a: unknown[]) => unknown>;
  return Object.fromEntries(methods.map((m) => [m, src[m].bind(impl)])) as T;
}

/** One hook as plugin `plugin` may use it: tap, tapAsync, tapPromise, under its own name. */
function tapView(hooks: Hooks, hook: HookName, plugin: string): object {
  const target = hooks[hook] as unknown as Record<string, (options: unknown, fn: unknown) => void>;
  const options = (o: TapOptions): string | object => {
    const given = typeof o === 'string' ? o : o?.name;
    if (given !== undefined && given !== plugin) {
      throw forbidden(plugin, `tap ${hook} as "${given}"${given === CORE_TAP ? ' (the core\'s own name)' : ''}: a plugin taps under its own name, "${plugin}"`);
    }
    return typeof o === 'string' || o === undefined || o === null ? plugin : { ...o, name: plugin };
  };
  const view: Record<string, unknown> = {};
  for (const m of ['tap', 'tapAsync', 'tapPromise']) {
    if (typeof target[m] === 'function') view[m] = (o: TapOptions, fn: unknown) => target[m](options(o), fn);
  }
  refuse(view, plugin, Object.fromEntries(['call', 'callAsync', 'promise'].map((m) => [m, `call the ${hook} hook (${m}): only the core calls hooks; tap it instead`])));
  refuse(view, plugin, { intercept: `intercept the ${hook} hook: tap it instead` });
  return Object.freeze(view);
}

/** Freeze `v` and everything reachable from it (the config handed to plugins). */
export function deepFreeze<T>(v: T): DeepReadonly<T> {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v as DeepReadonly<T>;
}
