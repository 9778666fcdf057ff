// What the property tests share (test/unit/fuzz-config.test.ts and test/integration/fuzz-*.ts):
// the seed, the time budget of one property, fc.assert with both, and the tally of outcomes each
// test prints for docs/security.md.
import type { TestContext } from 'node:test';
import fc from 'fast-check';

/** The properties' seed: fixed, so every run of the suite tries the same cases and a failure
 *  in CI is one anybody can replay; FUZZ_SEED=n tries seed n, FUZZ_SEED=random a new one (each
 *  test prints the seed it used with its counts). */
export const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() % 1_000_000 : Number(process.env.FUZZ_SEED ?? 20261130);
/** Wall-clock budget of one property: fast-check stops early and the printed count says so. */
export const BUDGET_MS = 6_000;

/** fc.assert with at most `numRuns` runs and the time budget; a failure's message carries the
 *  shrunk case's own assertion message (fast-check keeps it as the cause only). */
export async function check<T>(property: fc.IAsyncProperty<T>, numRuns: number): Promise<void> {
  try {
    await fc.assert(property, { numRuns, seed: SEED, interruptAfterTimeLimit: BUDGET_MS, markInterruptAsFailure: false });
  } catch (err) {
    const cause = (err as Error).cause as Error | undefined;
    throw new Error(`${(err as Error).message}${cause ? `\n${cause.message}` : ''}`, { cause });
  }
}

/** Outcomes of a class, printed as one diagnostic line for the CI log (docs/security.md figures). */
export class Tally {
  private readonly counts = new Map<string, number>();
  total = 0;
  add(outcome: string): void {
    this.total += 1;
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }
  print(t: TestContext, what: string): void {
    const parts = [...this.counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
    t.diagnostic(`${what}: ${this.total} cases (seed ${SEED}): ${parts.join(', ')}`);
  }
}
