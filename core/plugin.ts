// The plugin contract: what a plugin module exports and what it gets to work with.
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Hooks } from './hooks.ts';
import type { Registry } from './registry.ts';
import type { Instance, ProbeResult, TenementConfig } from './types.ts';

/** Exclusive slots: at most one plugin fills each. `extra` plugins fill none. */
export const SLOTS = ['balancer', 'isolation', 'scaler', 'workflows', 'metrics'] as const;
export type Slot = (typeof SLOTS)[number];

/** A JSON schema (the subset ajv understands) for a plugin's options table. */
export type OptionsSchema = Record<string, unknown>;

/** Process control handed to plugins (scalers, deploy workflows): the supervisor's verbs. */
export interface InstanceControl {
  /** Start an instance's process; resolves once it is running or this attempt failed. Ready =
   *  accepts connections, then passes the probe when the service has a health path, unless
   *  `ready: 'port'`. */
  start(inst: Instance, reason: string, opts?: { ready?: 'port' | 'health' }): Promise<void>;
  /** Stop it gracefully (SIGTERM → stop_timeout → SIGKILL) and leave it in `final`. */
  stop(inst: Instance, final: 'stopped' | 'idle', reason: string): Promise<void>;
  /** Run the probe hook once. */
  probe(inst: Instance): Promise<ProbeResult>;
  /** Freeze a running instance (cgroup freezer, else SIGSTOP): it becomes `idle` at once,
   *  keeping its process and port. Resolves with the mechanism used once frozen. */
  suspend(inst: Instance, reason: string): Promise<string>;
  /** Thaw a suspended (or freezing) instance: `running` again once thawed. false when it was
   *  not suspended. */
  resume(inst: Instance, reason: string): Promise<boolean>;
}

export interface PluginContext {
  /** Tap only: call `ctx.hooks.<hook>.tap(name, fn)`. */
  readonly hooks: Hooks;
  /** Read instances; request transitions and weight changes through its methods. */
  readonly registry: Registry;
  /** Start, stop and probe instances. */
  readonly instances: InstanceControl;
  /** The embedded SQLite store (better-sqlite3). Plugins keep their own tables, named
   *  `<plugin name with _ for ->_<table>`; write on changes, never per request. */
  readonly db: Database.Database;
  readonly config: TenementConfig;
  /** Child logger named after the plugin. */
  readonly log: Logger;
  /** Folder the config file lives in (relative paths in options resolve against it). */
  readonly dir: string;
  readonly http: {
    /** Register fastify routes on the management host, behind the API token. */
    register(plugin: FastifyPluginAsync): void;
  };
}

export interface PluginInstance {
  apply(ctx: PluginContext): void | Promise<void>;
  /** Called in reverse load order on shutdown. */
  dispose?(): void | Promise<void>;
}

export interface PluginDefinition<O = Record<string, unknown>> {
  /** One name: folder, tap name, config value, docs page. DNS-label-like, e.g. "weighted-balancer". */
  name: string;
  /** The exclusive slot this plugin fills, if any. */
  provides?: Slot;
  /** For isolation plugins: the `isolation = "..."` level value this plugin serves. */
  isolationLevel?: string;
  /** JSON schema of the options table; defaults in the schema are applied. */
  options?: OptionsSchema;
  create(options: O): PluginInstance;
}

/** Identity function that types a plugin definition. */
export function definePlugin<O = Record<string, unknown>>(def: PluginDefinition<O>): PluginDefinition<O> {
  return def;
}

export function isPluginDefinition(v: unknown): v is PluginDefinition {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return typeof d.name === 'string' && typeof d.create === 'function';
}
