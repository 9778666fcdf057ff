// stickyPick() (deploy-workflows/targeting.ts): weighted rendezvous hashing for sticky A/B
// assignment, measured over 10,000 user keys. Deterministic, shares in proportion to the weights,
// and when weights change only the share that has to move is reassigned.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { stickyPick } from '../../plugins/deploy-workflows/targeting.ts';

const KEYS = Array.from({ length: 10_000 }, (_, k) => `user-${k}`);
type W = Record<string, number>;
const candidates = (w: W) => Object.entries(w).map(([id, weight]) => ({ id, weight }));
/** Each key's instance id under weights `w`. */
const assign = (w: W) => KEYS.map((k) => stickyPick(candidates(w), k)?.id);
const count = (ids: Array<string | undefined>, id: string) => ids.filter((x) => x === id).length;
/** Key moves between two assignments, as "from→to": count. */
function moves(before: Array<string | undefined>, after: Array<string | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  before.forEach((x, k) => { if (x !== after[k]) out[`${x}→${after[k]}`] = (out[`${x}→${after[k]}`] ?? 0) + 1; });
  return out;
}
/** `n` of KEYS.length within 4 standard deviations of a share `p` (a binomial count). */
function share(n: number, p: number, what: string) {
  const N = KEYS.length;
  const sd = Math.sqrt(N * p * (1 - p));
  assert.ok(Math.abs(n - N * p) <= 4 * sd, `${what}: ${n} of ${N}, expected ${N * p} ± ${Math.round(4 * sd)}`);
}

describe('stickyPick()', () => {
  test('deterministic: the same key gets the same instance, whatever the order of the candidates', () => {
    const w = { a: 50, b: 30, c: 20 };
    const first = assign(w);
    assert.deepEqual(assign(w), first);
    assert.deepEqual(KEYS.map((k) => stickyPick(candidates(w).reverse(), k)?.id), first);
    // only the ratios of the weights count
    assert.deepEqual(assign({ a: 5, b: 3, c: 2 }), first);
  });

  test('no candidate with weight > 0 → undefined; weight 0 is never picked', () => {
    assert.equal(stickyPick([], 'u'), undefined);
    assert.equal(stickyPick(candidates({ a: 0, b: 0 }), 'u'), undefined);
    assert.equal(count(assign({ a: 0, b: 100 }), 'b'), KEYS.length);
    const only = { id: 'x', weight: 1 };
    assert.equal(stickyPick([only], 'anyone'), only, 'the candidate itself is returned');
  });

  test('shares follow the weights', () => {
    const two = assign({ a: 90, b: 10 });
    share(count(two, 'b'), 0.1, 'b at 90/10');
    const three = assign({ a: 50, b: 30, c: 20 });
    share(count(three, 'a'), 0.5, 'a at 50/30/20');
    share(count(three, 'b'), 0.3, 'b at 50/30/20');
    share(count(three, 'c'), 0.2, 'c at 50/30/20');
    const even = assign({ a: 1, b: 1, c: 1, d: 1 });
    for (const id of ['a', 'b', 'c', 'd']) share(count(even, id), 0.25, `${id} of 4 equal`);
  });

  test('90/10 → 80/20: only the users b gains move, all from a to b', () => {
    const before = assign({ a: 90, b: 10 });
    const after = assign({ a: 80, b: 20 });
    const gained = count(after, 'b') - count(before, 'b');
    assert.deepEqual(moves(before, after), { 'a→b': gained }, 'nobody leaves b, nobody moves but the share b gains');
    share(gained, 0.1, 'users moved');
  });

  test('one instance gains weight: only users moving to it are reassigned, from every other instance', () => {
    const before = assign({ a: 50, b: 30, c: 20 });
    const after = assign({ a: 50, b: 30, c: 40 }); // c: 20 % → 33.3 %
    const m = moves(before, after);
    assert.deepEqual(Object.keys(m).sort(), ['a→c', 'b→c']);
    assert.equal(m['a→c'] + m['b→c'], count(after, 'c') - count(before, 'c'));
    share(m['a→c'] + m['b→c'], 40 / 120 - 0.2, 'users moved to c');
    // a and b lose in proportion to what they had (50:30)
    share(m['a→c'], (40 / 120 - 0.2) * (50 / 80), 'moved from a');
  });

  test('an instance goes to weight 0: only its users move, spread over the others by weight', () => {
    const before = assign({ a: 50, b: 30, c: 20 });
    const after = assign({ a: 50, b: 30, c: 0 });
    const m = moves(before, after);
    assert.deepEqual(Object.keys(m).sort(), ['c→a', 'c→b']);
    assert.equal(m['c→a'] + m['c→b'], count(before, 'c'), 'every user of c, no one else');
    share(m['c→a'], 0.2 * (50 / 80), 'c → a');
    // and back: the same users return to c
    assert.deepEqual(assign({ a: 50, b: 30, c: 20 }), before);
  });

  test('any weights: raising one weight only moves users to it', () => {
    const keys = KEYS.slice(0, 300);
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 2, maxLength: 6 }), fc.nat(), fc.integer({ min: 1, max: 100 }),
      (weights, which, more) => {
        const list = weights.map((weight, k) => ({ id: `i${k}`, weight }));
        const up = which % list.length;
        const raised = list.map((c, k) => (k === up ? { ...c, weight: c.weight + more } : c));
        for (const key of keys) {
          const x = stickyPick(list, key)?.id;
          const y = stickyPick(raised, key)?.id;
          if (x !== y) assert.equal(y, `i${up}`, `${key}: ${x} → ${y} when i${up} gained ${more}`);
        }
      },
    ), { numRuns: 100 });
  });
});
