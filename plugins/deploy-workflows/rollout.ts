// ten rollout: automated canary. Shift weight to the canary step by step; during each step compare
// its 5xx rate and p99 latency (the proxy's own counters) with the thresholds and with the stable
// instances; on a breach roll back at once. State lives in the store so a restart of ten serve
// resumes the rollout.
import { asError, type Engine } from './engine.ts';
import type { Operation } from './journal.ts';
import { proportional, type Counters } from './stats.ts';
import { TenementError, describeExit, sleep, waitUntil, type Instance } from '../../core/index.ts';

export interface RolloutParams {
  service: string; to: string; steps: number[]; interval: number;
  max_error_rate: number; max_p99_ms?: number; timeout: number;
}

interface RolloutState { stable?: Record<string, number>; step?: number }

/** Requests a canary needs in a step before its error rate and p99 are judged. */
export const MIN_REQUESTS = 20;
const CHECK_EVERY_MS = 250;

export async function rollout(e: Engine, counters: Counters, op: Operation, p: RolloutParams, resumed = false): Promise<void> {
  const { registry } = e.ctx;
  const state = op.state as RolloutState;
  let canary: Instance | undefined;
  try {
    if (resumed && !state.stable) resumed = false; // interrupted before step 1: start over
    if (!resumed) {
      const existing = registry.get(p.service, p.to);
      if (existing && existing.state !== 'running') {
        e.step(op, `waiting for ${existing.key} (${existing.state}) to be running`);
        await waitRunning(e, p.service, p.to, p.timeout);
      } else if (!existing) {
        e.step(op, `${p.service}:${p.to} is not running: deploying it at weight 0`);
        await e.launch(p.service, p.to, p.timeout);
        e.step(op, `${p.service}:${p.to} is healthy`);
      }
      const stable = registry.list(p.service).filter((i) => i.id !== p.to && i.weight > 0);
      if (stable.length === 0) throw new TenementError('TEN_ERR_WORKFLOW_INVALID', ['rollout', `${p.service} has no stable instance with weight > 0 besides ${p.to}`]);
      state.stable = Object.fromEntries(stable.map((i) => [i.id, i.weight]));
      e.journal.save(op);
    } else {
      e.step(op, `resumed after a restart of ten serve at step ${(state.step ?? 0) + 1}/${p.steps.length}`);
      canary = registry.get(p.service, p.to); // so that a canary that does not come back is rolled back
      await waitRunning(e, p.service, p.to, p.timeout);
    }
    canary = registry.require(p.service, p.to);
    for (let k = state.step ?? 0; k < p.steps.length; k++) {
      const pct = p.steps[k];
      if (registry.get(p.service, p.to) !== canary) throw new TenementError('TEN_ERR_INSTANCE_NOT_FOUND', [canary.key]);
      const stable = stableInstances(e, p.service, state.stable!);
      const split = proportional(100 - pct, state.stable!);
      e.setWeights([[canary, pct], ...stable.map((i) => [i, split[i.id] ?? 0] as const)], `rollout step ${k + 1}`);
      state.step = k;
      e.step(op, `step ${k + 1}/${p.steps.length}: ${canary.id} ${pct}%, ${stable.map((i) => `${i.id} ${i.weight}%`).join(', ') || 'no stable instance'}`, { step: k + 1, steps: p.steps.length, weight: pct });
      e.journal.record(p.service, 'rollout-step', 'ok', `${canary.key} at ${pct}%`, { op: op.id, step: k + 1, weights: { [canary.id]: pct, ...split } });
      const breach = await watchStep(e, counters, op, p, canary, stable);
      if (e.closing) return; // shutting down: the next ten serve resumes this step
      if (breach) return await rollBack(e, op, p, canary, breach, 'rolled-back');
      if (e.aborts.has(op.id)) return await rollBack(e, op, p, canary, 'aborted by the user', 'aborted');
    }
    e.journal.finish(op, 'succeeded');
    e.step(op, `rollout of ${canary.key} complete; ${Object.keys(state.stable!).join(', ')} kept running for an instant rollback`);
    e.journal.record(p.service, 'rollout', 'ok', `rolled out ${canary.key} (${p.steps.join('/')})`, { op: op.id });
  } catch (err) {
    if (e.closing) return;
    const te = asError(err, e);
    if (state.stable && state.step !== undefined) return await rollBack(e, op, p, canary, te.message, 'rolled-back');
    e.step(op, `rollout failed before any weight changed: ${te.message}`);
    e.journal.finish(op, 'failed', te);
    e.journal.record(p.service, 'rollout', 'failed', `rollout of ${p.service}:${p.to} failed: ${te.message}`, { op: op.id, code: te.code });
  } finally {
    e.end(op);
  }
}

/** Watch one step for `interval` seconds; returns the breach, if any. Ends early on abort. */
async function watchStep(e: Engine, counters: Counters, op: Operation, p: RolloutParams, canary: Instance, stable: Instance[]): Promise<string | undefined> {
  counters.watch([canary.key, ...stable.map((i) => i.key)]);
  try {
    const end = Date.now() + p.interval * 1000;
    for (;;) {
      const last = Date.now() >= end;
      if (e.closing) return undefined;
      if (e.ctx.registry.get(canary.service, canary.id) !== canary) return `${canary.key} was removed`;
      if (canary.state !== 'running') return `${canary.key} is ${canary.state}${canary.lastExit ? ` (last exit: ${describeExit(canary.lastExit)})` : ''}`;
      const breach = judge(counters, p, canary, stable, last);
      if (breach) return breach;
      if (last || e.aborts.has(op.id) || e.closing) return undefined;
      await sleep(Math.min(CHECK_EVERY_MS, Math.max(0, end - Date.now())));
    }
  } finally {
    counters.unwatch([canary.key, ...stable.map((i) => i.key)]);
  }
}

/** A breach: worse than the threshold AND worse than the stable instances. */
export function judge(counters: Counters, p: RolloutParams, canary: Instance, stable: Instance[], final: boolean): string | undefined {
  const c = counters.window([canary]);
  const s = counters.window(stable);
  if (c.n < MIN_REQUESTS && !(final && c.n > 0)) return undefined;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  if (c.errorRate > p.max_error_rate && c.errorRate > s.errorRate) {
    return `canary 5xx rate ${pct(c.errorRate)} (${c.errors}/${c.n}) > max ${pct(p.max_error_rate)} (stable ${pct(s.errorRate)} of ${s.n})`;
  }
  if (p.max_p99_ms !== undefined && c.p99 > p.max_p99_ms && c.p99 > s.p99) {
    return `canary p99 ${c.p99.toFixed(0)} ms > max ${p.max_p99_ms} ms (stable p99 ${s.p99.toFixed(0)} ms)`;
  }
  return undefined;
}

/** Canary to 0 and the stable instances back to their weights, in one step. */
async function rollBack(e: Engine, op: Operation, p: RolloutParams, canary: Instance | undefined, why: string, status: 'rolled-back' | 'aborted'): Promise<void> {
  const stableWeights = (op.state as RolloutState).stable!;
  const stable = stableInstances(e, p.service, stableWeights);
  // the canary may be gone (ten stop during the rollout): then only the stable weights come back
  const live = canary && e.ctx.registry.get(p.service, canary.id) === canary ? canary : undefined;
  e.setWeights([...(live ? [[live, 0] as const] : []), ...stable.map((i) => [i, stableWeights[i.id]] as const)], `rollback of ${p.service}:${p.to}`);
  const err = new TenementError('TEN_ERR_WORKFLOW_ROLLED_BACK', [p.service, why]);
  e.step(op, `rolled back: ${why}; ${live ? `${live.id} 0%, ` : ''}${stable.map((i) => `${i.id} ${i.weight}%`).join(', ')}`);
  e.journal.finish(op, status, err);
  e.journal.record(p.service, 'rollback', status, `rolled back ${p.service}:${p.to}: ${why}`, { op: op.id, restored: stableWeights });
}

function stableInstances(e: Engine, service: string, weights: Record<string, number>): Instance[] {
  return Object.keys(weights).map((id) => e.ctx.registry.get(service, id)).filter((i): i is Instance => i !== undefined);
}

async function waitRunning(e: Engine, service: string, id: string, timeoutS: number): Promise<void> {
  const running = await waitUntil(() => {
    const inst = e.ctx.registry.get(service, id);
    if (inst && (inst.state === 'failed' || inst.state === 'stopped')) throw new TenementError('TEN_ERR_WORKFLOW_NOT_HEALTHY', [inst.key, inst.state]);
    return inst?.state === 'running';
  }, { deadline: Date.now() + timeoutS * 1000, alive: () => e.ctx.registry.get(service, id) !== undefined, firstDelayMs: 50, slowAfterMs: Infinity });
  if (!running) throw new TenementError('TEN_ERR_WORKFLOW_TIMEOUT', [`${service}:${id}`, timeoutS]);
}
