// "Did you mean": the closest of some known names to one a user typed, for config keys, plugin
// options, CLI commands and CLI options alike.

/** Edit distance between two strings: insertions, deletions, substitutions and swaps of two
 *  neighbours (`spwan` → `spawn`) cost 1 each (the optimal string alignment distance). */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) cur[j] = Math.min(cur[j], before[j - 2] + 1);
    }
    [before, prev] = [prev, cur];
  }
  return prev[b.length];
}

/**
 * The candidate closest to `typed` (compared in lower case) within edit distance `max`, or
 * undefined; with `short`, also within a third of the longer name, rounded down but at least 1 (for
 * short words: `nope` must not suggest `top`). Ties go to the earlier candidate.
 */
export function closest(typed: string, candidates: readonly string[], max = 2, short = false): string | undefined {
  const t = typed.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(t, c.toLowerCase());
    const limit = short ? Math.min(max, Math.max(1, Math.floor(Math.max(t.length, c.length) / 3))) : max;
    if (d <= limit && d < bestD) [best, bestD] = [c, d];
  }
  return best;
}
