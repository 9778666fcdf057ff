// The whole extension surface of tenement: one frozen object of typed tapable hooks.
// Each hook's doc comment says its kind, who taps it and what a throwing tap does; HOOK_POLICY
// says the latter in a form the compiler checks, and docs/hooks.md mirrors both (one section and
// one table row per hook; a test keeps them in sync). Modelled on webpack's Compiler#hooks.
import tapable from 'tapable';
import type { Logger } from 'pino';
import { isolateTaps } from './intercept.ts';
import type {
  ConfigReload, Instance, Outcome, ProbeResult, RequestContext, SpawnSpec, Target, TenementEvent, Transition, WakeContext, WeightChange,
} from './types.ts';

const { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncBailHook, SyncHook, SyncWaterfallHook } = tapable;

/** Tap stages the core uses (tapable runs lower stages first; the default is 0). A plugin that
 *  must run before the core's own tap of a hook taps below `core`. */
export const STAGE = Object.freeze({
  /** The core's filter of filterCandidates runs first, before any plugin's narrowing. */
  first: -100,
  /** Plugins, unless they say otherwise. */
  plugin: 0,
  /** The core's fallback taps (the HTTP/TCP probe): a plugin at a lower stage replaces them by bailing. */
  core: 100,
});

/** The tap name of the core's own taps. Plugins may not use it (their taps carry their own name). */
export const CORE_TAP = 'tenement';

/** Build the hooks; every tap registered on them follows HOOK_POLICY (see intercept.ts). */
export function createHooks(log: Logger) {
  const hooks = {
    /** AsyncSeriesBailHook — decide where a request goes. Core taps the host parser last (stage 100);
     *  taps before it may bail with a Target (e.g. path routing). A throw → 500 for that request. */
    resolveTarget: new AsyncSeriesBailHook<[RequestContext], Target | undefined>(['ctx']),
    /** SyncWaterfallHook — narrow a service's instances to the ones this request may use. Core drops
     *  non-running, zero-weight and ejected instances; plugins add targeting/stickiness. A throw → 500. */
    filterCandidates: new SyncWaterfallHook<[Instance[], RequestContext]>(['candidates', 'ctx']),
    /** SyncBailHook — pick one instance from the candidates. Filled by the `balancer` slot
     *  (weighted-balancer by default). Returning undefined → 503. A throw → 500. */
    selectInstance: new SyncBailHook<[Instance[], RequestContext], Instance | undefined>(['candidates', 'ctx']),
    /** AsyncSeriesBailHook — no candidate is running: a `scaler` may start one and resolve with it
     *  once ready; the request waits. undefined → 503 (404 for an unknown instance). A thrown
     *  TenementError is answered with its own code and status; any other throw → 500. */
    wake: new AsyncSeriesBailHook<[WakeContext], Instance | undefined>(['wake']),
    /** SyncHook (notification) — a request is about to be sent to this instance (called
     *  synchronously right before the proxy pipes it, so a tap may also listen to the body:
     *  shadow traffic). A throw is logged and isolated. */
    forward: new SyncHook<[RequestContext, Instance]>(['ctx', 'instance']),
    /** SyncHook (notification) — a proxied request finished (or the proxy answered it itself).
     *  Metrics, idle timers, canary analysis. A throw is logged and isolated. */
    requestDone: new SyncHook<[RequestContext, Outcome]>(['ctx', 'outcome']),
    /** AsyncSeriesWaterfallHook — rewrite how an instance's process is started (argv, env, cwd,
     *  process group, uid). Filled by the `isolation` slot. A throw fails that start (it is retried
     *  with backoff like a crash). */
    prepareSpawn: new AsyncSeriesWaterfallHook<[SpawnSpec]>(['spec']),
    /** SyncHook (notification) — an instance changed state; fired by lifecycle.transition() only.
     *  A throw is logged and isolated. */
    transition: new SyncHook<[Transition]>(['transition']),
    /** SyncHook (notification) — weights changed, in one atomic step (one entry per instance);
     *  fired by Registry.setWeights() only. History, metrics. A throw is logged and isolated. */
    weights: new SyncHook<[WeightChange[], string]>(['changes', 'reason']),
    /** AsyncSeriesBailHook — probe an instance's health. Core taps the HTTP/TCP probe last
     *  (stage 100); a plugin tapping earlier replaces it by bailing. A throw counts as a failed probe. */
    probe: new AsyncSeriesBailHook<[Instance], ProbeResult | undefined>(['instance']),
    /** SyncHook (notification) — a probe finished. A throw is logged and isolated. */
    probeResult: new SyncHook<[Instance, ProbeResult]>(['instance', 'result']),
    /** SyncHook (notification) — an event for the event stream: fired by the core (spawned,
     *  exited, state, weight) and by plugins through ctx.emit(). The log store and the metrics
     *  tap it. A throw is logged and isolated. */
    event: new SyncHook<[TenementEvent]>(['event']),
    /** SyncHook (notification) — tenement.toml was reloaded (`ten reload`, SIGHUP) and the new
     *  config is in force: `ctx.config` already returns it; called once the instances it concerns
     *  are started, stopped or restarted. A rejected reload does not call it. A throw is logged and
     *  isolated. */
    configReloaded: new SyncHook<[ConfigReload]>(['reload']),
    /** AsyncSeriesHook — the server is listening and boot instances are spawned: plugins start
     *  their timers. A throw aborts startup. */
    ready: new AsyncSeriesHook<[]>([]),
    /** AsyncSeriesHook — the server is shutting down: plugins stop their timers. A throw is logged. */
    shutdown: new AsyncSeriesHook<[]>([]),
  };
  isolateTaps(hooks, log);
  return Object.freeze(hooks);
}

export type Hooks = ReturnType<typeof createHooks>;
export type HookName = keyof Hooks;

/**
 * What a throwing tap does, per hook. `fail`: the error becomes TEN_ERR_PLUGIN_FAILED (a
 * TenementError passes unchanged) and fails what called the hook (the request, the start,
 * startup). `isolate`: the error is logged with the plugin and hook, the tap counts as having
 * returned undefined and the other taps still run. A Record over HookName, so a new hook does not
 * compile until its policy is chosen.
 */
export const HOOK_POLICY: Readonly<Record<HookName, 'fail' | 'isolate'>> = Object.freeze({
  resolveTarget: 'fail',
  filterCandidates: 'fail',
  selectInstance: 'fail',
  wake: 'fail',
  forward: 'isolate',
  requestDone: 'isolate',
  prepareSpawn: 'fail',
  transition: 'isolate',
  weights: 'isolate',
  probe: 'fail',
  probeResult: 'isolate',
  event: 'isolate',
  configReloaded: 'isolate',
  ready: 'fail',
  shutdown: 'isolate',
});
