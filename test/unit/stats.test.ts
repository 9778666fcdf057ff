// Canary analysis counters (deploy-workflows/stats.ts) and proportional(). Issue 8's measured fault:
// past 100,000 samples the error rate drifted upward (errors kept counting, latency samples stopped
// at a cap, the rate divided by the samples); p99 sorted every sample at every check.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { Counters, LATENCY_RANGE_US, proportional } from '../../plugins/deploy-workflows/stats.ts';
import type { Instance } from '../../core/index.ts';

const inst = (key: string) => ({ key, service: key.split(':')[0], id: key.split(':')[1] }) as Instance;
const A = inst('api:a');
const B = inst('api:b');
const ALL = inst('api:all');
/** Relative precision of 3 significant digits. */
const PRECISION = 10 ** -LATENCY_RANGE_US.digits;

/** |actual - expected| within the histogram's precision of expected. */
function near(actual: number, expected: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= expected * PRECISION, `${what}: ${actual} is not within ${PRECISION * 100}% of ${expected}`);
}

/** Exact nearest-rank percentile of a list. */
function nearestRank(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

describe('Counters', () => {
  test('150,000 requests with exactly 1 % 5xx: error rate 0.01, every request counted', () => {
    const c = new Counters();
    c.watch([A.key]);
    for (let k = 1; k <= 150_000; k++) c.add(A.key, k % 100 === 0 ? 503 : 200, 5 + (k % 40));
    const w = c.window([A]);
    assert.equal(w.n, 150_000);
    assert.equal(w.errors, 1_500);
    assert.equal(w.errorRate, 0.01); // it was 1500 / 100,000 = 0.015 with the sample cap
  });

  test('a 4xx is not an error; 500-599 are', () => {
    const c = new Counters();
    c.watch([A.key]);
    for (const status of [200, 301, 404, 499, 500, 502, 599]) c.add(A.key, status, 1);
    assert.deepEqual({ n: c.window([A]).n, errors: c.window([A]).errors }, { n: 7, errors: 3 });
  });

  test('p99 of known distributions within 3 significant digits', () => {
    // uniform 0.1 ms … 10 s in 0.1 ms steps: p99 = 9,900 ms
    const c = new Counters();
    c.watch([A.key, B.key]);
    const uniform = Array.from({ length: 100_000 }, (_, k) => (k + 1) / 10);
    for (const ms of uniform) c.add(A.key, 200, ms);
    near(c.window([A]).p99, nearestRank(uniform, 99), 'uniform');
    near(c.window([A]).p99, 9_900, 'uniform');
    // 98.5 % fast (3 ms), 1.5 % slow (750 ms): p99 is the slow mode
    for (let k = 0; k < 20_000; k++) c.add(B.key, 200, k % 200 < 3 ? 750 : 3);
    near(c.window([B]).p99, 750, 'bimodal');
    // 99.5 % fast: p99 stays with the fast mode
    c.watch([B.key]);
    for (let k = 0; k < 20_000; k++) c.add(B.key, 200, k % 200 === 0 ? 750 : 3);
    near(c.window([B]).p99, 3, 'mostly fast');
  });

  test('sub-millisecond and out-of-range latencies', () => {
    const c = new Counters();
    c.watch([A.key]);
    for (let k = 0; k < 100; k++) c.add(A.key, 200, 0.25);
    near(c.window([A]).p99, 0.25, '250 µs');
    c.watch([A.key]);
    for (let k = 0; k < 100; k++) c.add(A.key, 200, k < 98 ? -1 : 10 * 3_600_000); // a clock step back; a 10 h request
    const w = c.window([A]);
    assert.equal(w.n, 100);
    near(w.p99, 3_600_000, 'clamped to the 1 h top of the range');
  });

  test('the window of several instances is exactly the window of all their requests', () => {
    const c = new Counters();
    c.watch([A.key, B.key, ALL.key]);
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 100, max: 599 }), fc.double({ min: 0, max: 60_000, noNaN: true })), { maxLength: 300 }), (reqs) => {
      c.watch([A.key, B.key, ALL.key]);
      for (const [onA, status, ms] of reqs) {
        c.add(onA ? A.key : B.key, status, ms);
        c.add(ALL.key, status, ms);
      }
      assert.deepEqual(c.window([A, B]), c.window([ALL]));
    }), { numRuns: 200 });
    // one more time with enough traffic to matter, and the order of the instances does not count
    c.watch([A.key, B.key, ALL.key]);
    for (let k = 0; k < 50_000; k++) {
      const ms = (k * 7919) % 2_000;
      const status = k % 37 === 0 ? 500 : 200;
      c.add(k % 3 === 0 ? A.key : B.key, status, ms);
      c.add(ALL.key, status, ms);
    }
    assert.deepEqual(c.window([B, A]), c.window([ALL]));
    assert.equal(c.window([A, B]).n, 50_000);
  });

  test('watch() starts from zero; unwatched instances are not counted; no request → zeros', () => {
    const c = new Counters();
    c.add(A.key, 500, 10); // not watched yet
    assert.deepEqual(c.window([A]), { n: 0, errors: 0, errorRate: 0, p99: 0 });
    c.watch([A.key]);
    c.add(A.key, 500, 10);
    assert.equal(c.window([A]).n, 1);
    c.watch([A.key]);
    assert.deepEqual(c.window([A]), { n: 0, errors: 0, errorRate: 0, p99: 0 });
    c.add(A.key, 200, 10);
    c.unwatch([A.key]);
    c.add(A.key, 200, 10);
    assert.deepEqual(c.window([A, B]), { n: 0, errors: 0, errorRate: 0, p99: 0 });
  });

  test('memory does not grow with the number of requests', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const c = new Counters();
    c.watch([A.key, B.key]);
    c.add(A.key, 200, 1);
    c.window([A, B]);
    const footprint = c.footprint();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let k = 0; k < 1_000_000; k++) c.add(k % 2 ? A.key : B.key, k % 100 ? 200 : 500, (k % 100_000) / 7);
    c.window([A, B]);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(c.footprint(), footprint, 'the histograms keep their size');
    // 1,000,000 latencies kept as numbers would be 8 MB; a capped array of 100,000, 800 kB
    assert.ok(grown < 256 * 1024, `heap grew by ${grown} bytes over 1,000,000 requests`);
    assert.ok(footprint < 3 * 128 * 1024, `${footprint} bytes for two instances and the merge`);
  });
});

describe('proportional()', () => {
  test('parts in proportion to the weights, adding up to the total', () => {
    assert.deepEqual(proportional(90, { a: 60, b: 30 }), { a: 60, b: 30 });
    assert.deepEqual(proportional(95, { a: 80, b: 20 }), { a: 76, b: 19 });
    assert.deepEqual(proportional(50, { a: 1, b: 1, c: 1 }), { a: 17, b: 17, c: 16 }); // largest remainders, ties in order
    assert.deepEqual(proportional(10, { a: 7, b: 2, c: 1 }), { a: 7, b: 2, c: 1 });
    assert.deepEqual(proportional(5, { a: 7, b: 2, c: 1 }), { a: 4, b: 1, c: 0 }); // 3.5, 1, 0.5: a's .5 first
    assert.deepEqual(proportional(0, { a: 3, b: 1 }), { a: 0, b: 0 });
  });

  test('all-zero weights split evenly; no instance → {}', () => {
    assert.deepEqual(proportional(10, { a: 0, b: 0 }), { a: 5, b: 5 });
    assert.deepEqual(proportional(10, { a: 0, b: 0, c: 0 }), { a: 4, b: 3, c: 3 });
    assert.deepEqual(proportional(100, {}), {});
  });

  test('any weights: whole parts, sum = total, each within 1 of its exact share', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 100 }),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 100 }), { minKeys: 1, maxKeys: 8 }),
      (total, weights) => {
        const out = proportional(total, weights);
        const ids = Object.keys(weights);
        assert.deepEqual(Object.keys(out), ids);
        assert.equal(Object.values(out).reduce((s, x) => s + x, 0), total);
        const sum = ids.reduce((s, id) => s + weights[id], 0);
        for (const id of ids) {
          assert.ok(Number.isInteger(out[id]) && out[id] >= 0);
          const exact = sum === 0 ? total / ids.length : (total * weights[id]) / sum;
          assert.ok(Math.abs(out[id] - exact) < 1, `${id}: ${out[id]} for ${exact}`);
        }
      },
    ));
  });
});
