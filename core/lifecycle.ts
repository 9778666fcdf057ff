// The instance state table and the one function that changes an instance's state.
// Nothing else assigns `instance.state`; every change fires hooks.transition.
import type { Hooks } from './hooks.ts';
import type { Instance, InstanceState } from './types.ts';

/** from → the states it may move to. Mirrors the lifecycle diagram of seed 004 (docs/concepts.md). */
export const TRANSITIONS: Readonly<Record<InstanceState, readonly InstanceState[]>> = {
  stopped: ['starting', 'idle', 'restarting'],
  starting: ['running', 'restarting', 'failed', 'stopping', 'stopped'],
  running: ['unhealthy', 'restarting', 'failed', 'stopping', 'stopped', 'idle'],
  unhealthy: ['running', 'restarting', 'failed', 'stopping', 'stopped'],
  restarting: ['starting', 'failed', 'stopping', 'stopped', 'idle'],
  failed: ['starting', 'stopping', 'stopped', 'idle'],
  stopping: ['stopped', 'idle', 'failed', 'restarting'],
  idle: ['starting', 'running', 'stopping', 'stopped', 'restarting'],
};

/** States in which the instance's process exists. */
export const LIVE_STATES: ReadonlySet<InstanceState> = new Set(['starting', 'running', 'unhealthy', 'stopping']);

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Move `instance` to `to`, or throw if the table forbids it (a bug in the caller, not user input).
 * Returns false when the instance already is in `to` (no hook fires).
 */
export function transition(hooks: Hooks, instance: Instance, to: InstanceState, reason: string): boolean {
  const from = instance.state;
  if (from === to) return false;
  if (!canTransition(from, to)) {
    throw new Error(`illegal transition of ${instance.key}: ${from} → ${to} (${reason})`);
  }
  instance.state = to;
  if (to === 'running') instance.health = 'healthy';
  else if (to === 'unhealthy') instance.health = 'unhealthy';
  else if (!LIVE_STATES.has(to)) instance.health = 'unknown';
  hooks.transition.call({ instance, from, to, reason });
  return true;
}
