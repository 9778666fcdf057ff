// The pure pick functions of the two built-in balancers, with an injected random source.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { pickLeastConnections } from '../../plugins/least-connections/pick.ts';
import { pickWeighted } from '../../plugins/weighted-balancer/pick.ts';

type C = { id: string; weight: number; inflight: number };
const c = (id: string, weight: number, inflight = 0): C => ({ id, weight, inflight });
const fixed = (r: number) => () => r;
/** The largest double below 1: what Math.random() can return at most. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;

const candidateArb = fc.record({ id: fc.string({ maxLength: 4 }), weight: fc.integer({ min: 0, max: 100 }), inflight: fc.integer({ min: 0, max: 50 }) });
const unitArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('pickWeighted()', () => {
  test('empty list → undefined', () => {
    assert.equal(pickWeighted([], fixed(0.5)), undefined);
  });

  test('all zero weights → undefined', () => {
    assert.equal(pickWeighted([c('a', 0), c('b', 0)], fixed(0)), undefined);
    assert.equal(pickWeighted([c('a', 0)], fixed(ALMOST_ONE)), undefined);
  });

  test('r = 0 → the first positive-weight candidate', () => {
    const list = [c('a', 30), c('b', 70)];
    assert.equal(pickWeighted(list, fixed(0)), list[0]);
  });

  test('r → 1 → the last positive-weight candidate', () => {
    const list = [c('a', 30), c('b', 70), c('z', 0)];
    assert.equal(pickWeighted(list, fixed(ALMOST_ONE)), list[1]);
    assert.equal(pickWeighted(list, fixed(1)), list[1], 'even r = 1 exactly (out of Math.random range) stays in bounds');
  });

  test('zero weights are skipped wherever they are', () => {
    const list = [c('z1', 0), c('a', 50), c('z2', 0), c('b', 50), c('z3', 0)];
    assert.equal(pickWeighted(list, fixed(0)), list[1]);
    assert.equal(pickWeighted(list, fixed(0.49)), list[1]);
    assert.equal(pickWeighted(list, fixed(0.5)), list[3]);
    assert.equal(pickWeighted(list, fixed(ALMOST_ONE)), list[3]);
  });

  test('negative weights are treated like 0', () => {
    const list = [c('neg', -10), c('a', 10)];
    for (const r of [0, 0.5, ALMOST_ONE]) assert.equal(pickWeighted(list, fixed(r)), list[1]);
  });

  test('interval boundaries: candidate k owns [sum before k, sum through k) / total', () => {
    const list = [c('a', 20), c('b', 30), c('c', 50)];
    const at = (r: number) => pickWeighted(list, fixed(r))!.id;
    assert.equal(at(0.19), 'a');
    assert.equal(at(0.2), 'b');
    assert.equal(at(0.49), 'b');
    assert.equal(at(0.5), 'c');
    assert.equal(at(0.99), 'c');
  });

  test('a uniform grid of r values splits exactly by weight', () => {
    const list = [c('a', 80), c('b', 20), c('z', 0)];
    const counts = new Map<string, number>();
    const N = 1000;
    for (let k = 0; k < N; k++) {
      const id = pickWeighted(list, fixed((k + 0.5) / N))!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { a: 800, b: 200 });
  });

  test('a single positive candidate always wins', () => {
    const list = [c('z', 0), c('only', 1)];
    for (const r of [0, 0.3, ALMOST_ONE]) assert.equal(pickWeighted(list, fixed(r)), list[1]);
  });

  test('uses Math.random when no source is given', () => {
    const list = [c('a', 1), c('b', 1)];
    assert.ok(list.includes(pickWeighted(list)!));
  });

  test('does not mutate the candidates', () => {
    const list = [c('a', 10), c('b', 0), c('c', 90)];
    const copy = structuredClone(list);
    pickWeighted(list, fixed(0.7));
    assert.deepEqual(list, copy);
  });

  test('property: result is a member with weight > 0, or undefined iff no positive weight', () => {
    fc.assert(fc.property(fc.array(candidateArb, { maxLength: 12 }), unitArb, (list, r) => {
      const got = pickWeighted(list, fixed(r));
      if (list.every((x) => x.weight <= 0)) return assert.equal(got, undefined);
      assert.ok(got !== undefined);
      assert.ok(list.includes(got), 'a member (same object)');
      assert.ok(got.weight > 0);
    }), { numRuns: 1000 });
  });

  test('property: picking is monotone in r (the order of candidates is kept)', () => {
    fc.assert(fc.property(fc.array(candidateArb, { minLength: 1, maxLength: 8 }), unitArb, unitArb, (list, r1, r2) => {
      const [lo, hi] = r1 <= r2 ? [r1, r2] : [r2, r1];
      const a = pickWeighted(list, fixed(lo));
      const b = pickWeighted(list, fixed(hi));
      if (a === undefined) return assert.equal(b, undefined);
      assert.ok(list.indexOf(a) <= list.indexOf(b!));
    }));
  });
});

describe('pickLeastConnections()', () => {
  test('empty list and all-zero weights → undefined', () => {
    assert.equal(pickLeastConnections([], fixed(0)), undefined);
    assert.equal(pickLeastConnections([c('a', 0, 0), c('b', 0, 0)], fixed(0)), undefined);
  });

  test('fewest in-flight wins at equal weights', () => {
    const list = [c('a', 50, 3), c('b', 50, 1), c('c', 50, 2)];
    for (const r of [0, 0.5, ALMOST_ONE]) assert.equal(pickLeastConnections(list, fixed(r)), list[1]);
  });

  test('in-flight is counted per unit of weight', () => {
    // a: 10/100 = 0.1, b: 2/10 = 0.2 → a, although a has more requests in flight
    const list = [c('a', 100, 10), c('b', 10, 2)];
    assert.equal(pickLeastConnections(list, fixed(0))!.id, 'a');
    // a: 30/100 = 0.3, b: 2/10 = 0.2 → b
    assert.equal(pickLeastConnections([c('a', 100, 30), c('b', 10, 2)], fixed(0))!.id, 'b');
  });

  test('zero-weight candidates are never picked, even when idle', () => {
    const list = [c('z', 0, 0), c('a', 10, 5)];
    assert.equal(pickLeastConnections(list, fixed(0)), list[1]);
  });

  test('ties are broken by the random source among the equals only', () => {
    // a: 0, b: 0, c: 1/10, d: 0 — the tie is {a, b, d}
    const list = [c('a', 50, 0), c('b', 20, 0), c('c', 10, 1), c('d', 100, 0)];
    assert.equal(pickLeastConnections(list, fixed(0))!.id, 'a');
    assert.equal(pickLeastConnections(list, fixed(0.34))!.id, 'b');
    assert.equal(pickLeastConnections(list, fixed(0.67))!.id, 'd');
    assert.equal(pickLeastConnections(list, fixed(ALMOST_ONE))!.id, 'd');
  });

  test('equal ratios with different numbers tie (1/3 = 2/6)', () => {
    const list = [c('a', 3, 1), c('b', 6, 2)];
    assert.equal(pickLeastConnections(list, fixed(0))!.id, 'a');
    assert.equal(pickLeastConnections(list, fixed(0.9))!.id, 'b');
  });

  test('with Math.random, idle equals share the load', () => {
    const list = [c('a', 80), c('b', 20)];
    const counts = { a: 0, b: 0 };
    for (let k = 0; k < 2000; k++) counts[pickLeastConnections(list)!.id as 'a' | 'b']++;
    assert.ok(counts.a > 800 && counts.b > 800, JSON.stringify(counts));
  });

  test('does not mutate the candidates', () => {
    const list = [c('a', 10, 1), c('b', 0, 0), c('c', 90, 4)];
    const copy = structuredClone(list);
    pickLeastConnections(list, fixed(0.7));
    assert.deepEqual(list, copy);
  });

  test('property: the result minimises inflight/weight among positive-weight members', () => {
    fc.assert(fc.property(fc.array(candidateArb, { maxLength: 12 }), unitArb, (list, r) => {
      const got = pickLeastConnections(list, fixed(r));
      const positive = list.filter((x) => x.weight > 0);
      if (positive.length === 0) return assert.equal(got, undefined);
      assert.ok(got !== undefined && list.includes(got) && got.weight > 0);
      const best = Math.min(...positive.map((x) => x.inflight / x.weight));
      assert.equal(got.inflight / got.weight, best);
    }), { numRuns: 1000 });
  });

  test('property: simulated load stays balanced per weight (each pick adds one in-flight)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 6 }), unitArb, (weights, r) => {
      const list = weights.map((w, k) => c(String(k), w));
      for (let n = 0; n < 200; n++) pickLeastConnections(list, fixed(r))!.inflight++;
      // after each pick the chosen one had the lowest ratio, so no ratio exceeds another by more than one request's share
      const ratios = list.map((x) => x.inflight / x.weight);
      const min = Math.min(...ratios);
      for (const x of list) assert.ok(x.inflight / x.weight <= min + 1 / x.weight + 1e-9, JSON.stringify(list));
    }));
  });
});
