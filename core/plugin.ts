// The plugin contract: what a plugin module exports and the narrowed context it works with.
// Modelled on fastify's encapsulation (a plugin gets its own view, not the server) and tapable's
// tap-only views (webpack hands plugins hooks they can tap, never call).
import type { Static, TSchema } from '@sinclair/typebox';
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Hooks } from './hooks.ts';
import type { EventInput, Instance, InstanceState, ProbeResult, TenementConfig } from './types.ts';

/** Exclusive slots: at most one plugin fills each. `extra` plugins fill none. */
export const SLOTS = ['balancer', 'isolation', 'scaler', 'workflows', 'metrics', 'dashboard'] as const;
export type Slot = (typeof SLOTS)[number];

/** A JSON schema (draft-07, as ajv checks it) for a plugin's options table; TypeBox's `Type`
 *  builds one with its static type. */
export type OptionsSchema = TSchema | Record<string, unknown>;

/** An instance as plugins see it: read-only (changes go through `ctx.instances`). */
export type InstanceInfo = Readonly<Instance>;

/**
 * What a plugin may ask of the core about instances: the supervisor's verbs and the registry's
 * writes. Implemented by the Supervisor. Every method takes an instance the registry returned.
 */
export interface InstanceControl {
  /** Start an instance's process; resolves once it is running or this attempt failed. Ready =
   *  accepts connections, then passes the probe when the service has a health path, unless
   *  `ready: 'port'`. */
  start(inst: InstanceInfo, reason: string, opts?: { ready?: 'port' | 'health' }): Promise<void>;
  /** Stop it gracefully (SIGTERM → stop_timeout → SIGKILL) and leave it in `final`. */
  stop(inst: InstanceInfo, final: 'stopped' | 'idle', reason: string): Promise<void>;
  /** Run the probe hook once. */
  probe(inst: InstanceInfo): Promise<ProbeResult>;
  /** Freeze a running instance (cgroup freezer, else SIGSTOP): it becomes `idle` at once,
   *  keeping its process and port. Resolves with the mechanism used once frozen. */
  suspend(inst: InstanceInfo, reason: string): Promise<string>;
  /** Thaw a suspended (or freezing) instance: `running` again once thawed. false when it was
   *  not suspended. */
  resume(inst: InstanceInfo, reason: string): Promise<boolean>;
  /** Add and persist a `stopped` instance (TEN_ERR_API_INVALID_NAME, TEN_ERR_INSTANCE_EXISTS). */
  create(service: string, id: string, weight: number): InstanceInfo;
  /** Forget an instance that no longer runs (removed from the store too). */
  remove(inst: InstanceInfo): void;
  /** Change weights (0–100) as one atomic, persisted step; then the `weights` hook fires. */
  setWeights(changes: ReadonlyArray<readonly [InstanceInfo, number]>, reason: string): void;
  /** Record a state change without touching the process, checked against the state table
   *  (docs/concepts.md#instance-lifecycle); false when it already was in `to`. */
  transition(inst: InstanceInfo, to: InstanceState, reason: string): boolean;
}

/** The registry, read-only: every instance tenement knows. */
export interface RegistryView {
  get(service: string, id: string): InstanceInfo | undefined;
  /** Like get(), but a missing instance is TEN_ERR_INSTANCE_NOT_FOUND. */
  require(service: string, id: string): InstanceInfo;
  /** All instances, or one service's, in creation order (a fresh array). */
  list(service?: string): InstanceInfo[];
}

/** How a hook may be tapped: by name (which must be the plugin's own) or with tapable options
 *  whose `name`, when given, must be the plugin's own too. */
export type TapOptions = string | { name?: string; stage?: number; before?: string | string[] };

type Args<H> = H extends { tap(o: never, fn: (...args: infer A) => unknown): void } ? A : never;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- inference only
type Result<H> = H extends { tap(o: never, fn: (...args: any[]) => infer R): void } ? R : never;

/** One hook as a plugin sees it: tap methods only (no call/promise/intercept). */
export type TapView<H> = {
  tap(options: TapOptions, fn: (...args: Args<H>) => Result<H>): void;
} & (H extends { tapPromise: unknown } ? {
  tapPromise(options: TapOptions, fn: (...args: Args<H>) => Promise<Result<H>>): void;
  tapAsync(options: TapOptions, fn: (...args: [...Args<H>, (err?: Error | null, result?: Result<H>) => void]) => void): void;
} : unknown);

/** The hooks as a plugin sees them: tap-only views stamped with the plugin's name. */
export type PluginHooks = { readonly [K in keyof Hooks]: TapView<Hooks[K]> };

/** A plugin's own tables: a SQLite database of its own ({data_dir}/plugins/<name>.db), opened on
 *  first use and closed by the core. Write on changes, never per request. */
export interface PluginStore {
  prepare(sql: string): Database.Statement;
  exec(sql: string): void;
  transaction<F extends (...args: any[]) => unknown>(fn: F): Database.Transaction<F>;
}

/** Deeply read-only view of a value (the config plugins get is frozen as well). */
export type DeepReadonly<T> = T extends (infer E)[] ? ReadonlyArray<DeepReadonly<E>>
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

export interface PluginContext {
  /** The plugin's name (its taps, log lines and errors carry it). */
  readonly name: string;
  /** Tap only: `ctx.hooks.<hook>.tap(ctx.name, fn)`. */
  readonly hooks: PluginHooks;
  /** Read instances. */
  readonly registry: RegistryView;
  /** Start, stop, probe, create, remove instances, change weights and states. */
  readonly instances: InstanceControl;
  /** The plugin's own SQLite tables. */
  readonly store: PluginStore;
  /** The parsed tenement.toml in force, frozen. A reload (`ten reload`, SIGHUP) replaces it as a
   *  whole: read ctx.config when you need it rather than keeping it or a part of it from apply();
   *  the `configReloaded` hook says when it changed. */
  readonly config: DeepReadonly<TenementConfig>;
  /** Child logger whose lines carry `plugin: <name>`. */
  readonly log: Logger;
  /** Folder the config file lives in (relative paths in options resolve against it). */
  readonly dir: string;
  /** Add an event to the event stream (the `event` hook, the logs' `event` stream), stamped with
   *  the time and the plugin's name. TEN_ERR_PLUGIN_FAILED when `kind`, `service` or `message`
   *  is not a non-empty string. */
  emit(event: EventInput): void;
  readonly http: {
    /** Register fastify routes on the management host, behind the API token; with
     *  `{ public: true }`, without it (a page that asks for the token itself, public metrics). */
    register(plugin: FastifyPluginAsync, opts?: { public?: boolean }): void;
  };
}

export interface PluginInstance {
  apply(ctx: PluginContext): void | Promise<void>;
  /** Called in reverse load order on shutdown. */
  dispose?(): void | Promise<void>;
}

/** What a plugin in a slot declares besides `provides`. Only `isolation` declares anything. */
export interface SlotMetadata {
  isolation: {
    /** The `isolation = "…"` values of services this plugin serves, e.g. ["process"]. */
    levels: readonly string[];
  };
}

/** `provides` and, for slots with metadata, what that slot requires the plugin to declare. */
export type Provides =
  | { provides?: undefined }
  | { [S in Exclude<Slot, keyof SlotMetadata>]: { provides: S } }[Exclude<Slot, keyof SlotMetadata>]
  | { [S in keyof SlotMetadata]: { provides: S } & SlotMetadata[S] }[keyof SlotMetadata];

export type PluginDefinition<O = Record<string, unknown>> = {
  /** One name: folder, tap name, config value, docs page. A DNS label, e.g. "weighted-balancer". */
  name: string;
  /** JSON schema of the options table; defaults in the schema are applied. */
  options?: OptionsSchema;
  /** Names of plugins that must be loaded too (checked at load: TEN_ERR_PLUGIN_DEPENDENCY_MISSING). */
  dependencies?: readonly string[];
  create(options: O): PluginInstance;
} & Provides;

/** Types a plugin definition (returns it unchanged). With a TypeBox `options` schema, `create`'s
 *  options get its static type. */
export function definePlugin<S extends TSchema>(def: PluginDefinition<Static<S>> & { options: S }): PluginDefinition<Static<S>>;
export function definePlugin<O = Record<string, never>>(def: PluginDefinition<O>): PluginDefinition<O>;
export function definePlugin(def: PluginDefinition<unknown>): PluginDefinition<unknown> {
  return def;
}

export function isPluginDefinition(v: unknown): v is PluginDefinition {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return typeof d.name === 'string' && typeof d.create === 'function';
}
