// What follows an instance's unplanned exit: its service's `restart` policy and the crash budget
// (max_restarts within restart_window, exponential backoff from backoff_base up to backoff_max).
// Pure decisions; the supervisor carries them out.
import type { Instance, ServiceConfig, Settings } from './types.ts';

/** What to do after an exit: a final state, or a restart after `delayMs`. */
export type AfterExit =
  | { state: 'stopped' | 'failed'; reason: string; gaveUp?: boolean }
  | { state: 'restarting'; reason: string; delayMs: number };

/**
 * Count one restart of `inst` (when `commit`); returns the backoff delay in ms, or undefined when
 * max_restarts within restart_window are used up. `inst.restartTimes` is pruned to the window.
 */
export function takeRestart(inst: Instance, s: Settings, commit = true, now = Date.now()): number | undefined {
  inst.restartTimes = inst.restartTimes.filter((t) => now - t < s.restart_window * 1000);
  if (inst.restartTimes.length >= s.max_restarts) return undefined;
  const delay = Math.min(s.backoff_base * 1000 * 2 ** inst.restartTimes.length, s.backoff_max * 1000);
  if (commit) {
    inst.restartTimes.push(now);
    inst.restarts += 1;
  }
  return Math.round(delay);
}

/** The decision after an unplanned exit with `code`/`signal`, described by `why`. */
export function afterExit(inst: Instance, svc: ServiceConfig, s: Settings, code: number | null, signal: string | null, why: string): AfterExit {
  const clean = code === 0 && signal === null;
  if (svc.restart === 'never' || (svc.restart === 'on-failure' && clean)) {
    return { state: clean ? 'stopped' : 'failed', reason: `${why}; restart = "${svc.restart}"` };
  }
  const delayMs = takeRestart(inst, s);
  if (delayMs === undefined) return { state: 'failed', gaveUp: true, reason: `${why}; gave up after ${s.max_restarts} restarts within ${s.restart_window} s` };
  return { state: 'restarting', delayMs, reason: `${why}; restart in ${delayMs} ms` };
}
