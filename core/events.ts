// The event stream's core entries: what the supervisor and the registry do, as TenementEvents on
// the `event` hook (plugins add theirs through ctx.emit). The log store keeps them as the stream
// `event`; the metrics plugin counts them.
import { CORE_TAP, type Hooks } from './hooks.ts';
import type { Instance, TenementEvent } from './types.ts';

/** Fire one core event about `inst`. */
export function emitEvent(hooks: Hooks, inst: Pick<Instance, 'service' | 'id'>, kind: string, message: string, fields?: TenementEvent['fields']): void {
  hooks.event.call({ at: Date.now(), source: CORE_TAP, kind, service: inst.service, instance: inst.id, message, ...(fields ? { fields } : {}) });
}

/** Turn every state change (`state`) and weight change (`weight`) into an event. */
export function bridgeEvents(hooks: Hooks): void {
  hooks.transition.tap(CORE_TAP, ({ instance, from, to, reason }) =>
    emitEvent(hooks, instance, 'state', `${from} → ${to} (${reason})`, { from, to }));
  hooks.weights.tap(CORE_TAP, (changes, reason) => {
    for (const c of changes) emitEvent(hooks, c.instance, 'weight', `${c.from} → ${c.to} (${reason})`, { from: c.from, to: c.to });
  });
}
