// Weighted random choice: each candidate is picked with probability weight / sum(weights).
import type { Instance } from '../../core/index.ts';

export function pickWeighted<T extends Pick<Instance, 'weight'>>(candidates: readonly T[], random: () => number = Math.random): T | undefined {
  let total = 0;
  for (const c of candidates) if (c.weight > 0) total += c.weight;
  if (total <= 0) return undefined;
  let r = random() * total;
  for (const c of candidates) {
    if (c.weight <= 0) continue;
    r -= c.weight;
    if (r < 0) return c;
  }
  // floating point edge (random() close to 1): the last positive-weight candidate
  for (let i = candidates.length - 1; i >= 0; i--) if (candidates[i].weight > 0) return candidates[i];
  return undefined;
}
