// Weighted least connections: the candidate with the fewest in-flight requests per unit of
// weight; ties are broken at random so equal instances share the load.
import type { Instance } from '../../core/index.ts';

export function pickLeastConnections<T extends Pick<Instance, 'weight' | 'inflight'>>(candidates: readonly T[], random: () => number = Math.random): T | undefined {
  let best: T[] = [];
  let bestScore = Infinity;
  for (const c of candidates) {
    if (c.weight <= 0) continue;
    const score = c.inflight / c.weight;
    if (score < bestScore) { bestScore = score; best = [c]; } else if (score === bestScore) best.push(c);
  }
  return best.length === 0 ? undefined : best[Math.floor(random() * best.length)];
}
