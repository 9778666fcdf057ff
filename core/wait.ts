// The one way tenement waits for a condition it cannot be told about: check, sleep, check again,
// always against a deadline. Readiness, drains, freezes and the CLI's progress all use it; where
// an event exists (a hook, a promise), wait on that instead.

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  /** ms epoch after which the wait gives up (resolves false). Required: every wait is bounded. */
  deadline: number;
  /** The wait also gives up as soon as this returns false (the thing waited for is gone). */
  alive?: () => boolean;
  /** ms before the second check (default 2: readiness is seen close to when it happens). */
  firstDelayMs?: number;
  /** Delays grow by half once the wait is older than `slowAfterMs`, up to this (default 25 ms). */
  maxDelayMs?: number;
  /** ms of checking at `firstDelayMs` before delays start to grow (default 1000). */
  slowAfterMs?: number;
}

/**
 * Check `check` until it returns true (resolves true), the deadline passes or `alive()` turns
 * false (resolves false). The first check is immediate. Never throws unless `check` does.
 */
export async function waitUntil(check: () => boolean | Promise<boolean>, opts: WaitOptions): Promise<boolean> {
  const start = Date.now();
  const alive = opts.alive ?? (() => true);
  let delay = opts.firstDelayMs ?? 2;
  while (alive()) {
    if (await check()) return true;
    if (Date.now() + delay > opts.deadline || !alive()) return false;
    await sleep(delay);
    if (Date.now() - start > (opts.slowAfterMs ?? 1000)) delay = Math.min(delay * 1.5, opts.maxDelayMs ?? 25);
  }
  return false;
}
