// The whole extension surface of tenement: one frozen object of typed tapable hooks.
// Each hook's doc comment says its kind, who taps it and what a throwing tap does; docs/hooks.md
// mirrors these comments (one section per hook). Modelled on webpack's Compiler#hooks.
import tapable from 'tapable';
import type { Logger } from 'pino';
import { TenementError } from './errors.ts';
import type {
  Instance, Outcome, ProbeResult, RequestContext, SpawnSpec, Target, Transition, WakeContext, WeightChange,
} from './types.ts';

const { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncBailHook, SyncHook, SyncWaterfallHook } = tapable;

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
    /** AsyncSeriesHook — the server is listening and boot instances are spawned: plugins start
     *  their timers. A throw aborts startup. */
    ready: new AsyncSeriesHook<[]>([]),
    /** AsyncSeriesHook — the server is shutting down: plugins stop their timers. A throw is logged. */
    shutdown: new AsyncSeriesHook<[]>([]),
  };
  const notifications = new Set(['forward', 'requestDone', 'transition', 'weights', 'probeResult', 'shutdown']);
  for (const [hookName, hook] of Object.entries(hooks)) {
    hook.intercept({
      register(tap) {
        const plugin = tap.name;
        const wrap = (err: unknown) => new TenementError('TEN_ERR_PLUGIN_FAILED',
          [plugin, hookName, err instanceof Error ? err.message : String(err)], { plugin, hook: hookName }, err);
        const isolate = notifications.has(hookName);
        const fn = tap.fn as (...a: unknown[]) => unknown;
        if (tap.type === 'sync') {
          tap.fn = (...args: unknown[]) => {
            try { return fn(...args); } catch (err) {
              if (isolate) { log.error({ err, plugin, hook: hookName }, 'plugin tap failed (isolated)'); return undefined; }
              throw err instanceof TenementError ? err : wrap(err);
            }
          };
        } else if (tap.type === 'async') {
          tap.fn = (...args: unknown[]) => {
            const cb = args.pop() as (err?: unknown, result?: unknown) => void;
            const done = (err?: unknown, result?: unknown) => {
              if (err === undefined || err === null) return cb(null, result);
              if (isolate) { log.error({ err, plugin, hook: hookName }, 'plugin tap failed (isolated)'); return cb(); }
              cb(err instanceof TenementError ? err : wrap(err));
            };
            try { fn(...args, done); } catch (err) { done(err); }
          };
        } else if (tap.type === 'promise') {
          tap.fn = async (...args: unknown[]) => {
            try { return await fn(...args); } catch (err) {
              if (isolate) { log.error({ err, plugin, hook: hookName }, 'plugin tap failed (isolated)'); return undefined; }
              throw err instanceof TenementError ? err : wrap(err);
            }
          };
        }
        return tap;
      },
    });
  }
  return Object.freeze(hooks);
}

export type Hooks = ReturnType<typeof createHooks>;
export type HookName = keyof Hooks;
