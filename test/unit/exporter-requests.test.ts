// The exporter's per-request records (plugins/prometheus-exporter/requests.ts): the per-second
// window behind /api/stats (counts, 5xx, p99 within its stated ±4.4 %, seconds that age out) and
// the RequestBook (histogram buckets as Prometheus counts them, records of removed instances).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BUCKETS, RequestBook, Window } from '../../plugins/prometheus-exporter/requests.ts';

/** The exact q quantile as the window defines it: the ⌈q·n⌉-th smallest. */
function exact(ms: number[], q: number): number {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.max(1, Math.ceil(q * s.length)) - 1] / 1000;
}

test('Window: p99 within ±4.4 % of the exact one, for any latencies from 0.1 ms to 200 s', () => {
  fc.assert(fc.property(fc.array(fc.double({ min: 0.1, max: 200_000, noNaN: true }), { minLength: 1, maxLength: 400 }), (ms) => {
    const w = new Window();
    ms.forEach((x, i) => w.add(1000 + (i % 10), x, false));
    const got = w.sum(1000, 1010);
    assert.equal(got.count, ms.length);
    const want = exact(ms, 0.99);
    assert.ok(Math.abs(got.p99! - want) <= want * 0.0443, `p99 ${got.p99} vs ${want}`);
  }));
});

test('Window: counts and 5xx per range of seconds; empty → p99 null; old seconds age out', () => {
  const w = new Window();
  for (let i = 0; i < 30; i++) w.add(500, 2, i < 6);
  for (let i = 0; i < 10; i++) w.add(501, 20, false);
  assert.deepEqual({ ...w.sum(500, 502), p99: undefined }, { count: 40, errors: 6, p99: undefined });
  assert.equal(w.sum(501, 502).count, 10);
  assert.deepEqual(w.sum(502, 510), { count: 0, errors: 0, p99: null });
  // second 516 takes 500's slot: 500's requests are gone, not added to 516's
  w.add(516, 1, false);
  assert.equal(w.sum(500, 501).count, 0);
  assert.equal(w.sum(516, 517).count, 1);
  assert.equal(w.sum(490, 517).count, 11, 'the last 16 seconds: 501 and 516');
  assert.equal(w.sum(490, 520).count, 1, 'at most the last 16 seconds: 501 is too old for 520');
  // below the first bound and above the last: the end buckets, no throw
  w.add(517, 0, false);
  w.add(517, 10_000_000, false);
  assert.equal(w.sum(517, 518).count, 2);
});

test('RequestBook: Prometheus buckets (le is inclusive), codes, error kinds, own answers, pruning', () => {
  const book = new RequestBook();
  const v1 = { id: 'v1' };
  book.record('api', v1, 200, 1, true, undefined); // exactly 1 ms: in le="0.001"
  book.record('api', v1, 200, 1.0001, true, undefined);
  book.record('api', v1, 502, 40_000, true, 'TEN_ERR_ROUTE_UPSTREAM_FAILED'); // above 30 s: +Inf only
  book.record('api', v1, 101, 60_000, false, undefined); // a WebSocket: counted, not timed
  book.record('api', undefined, 503, 0.2, true, 'TEN_ERR_ROUTE_NO_INSTANCE');
  const rec = book.records.get('api\0v1')!;
  assert.deepEqual([...rec.codes], [[200, 2], [502, 1], [101, 1]]);
  assert.equal(rec.count, 3);
  assert.equal(rec.buckets[0], 1);
  assert.equal(rec.buckets[1], 1);
  assert.equal(rec.buckets[BUCKETS.length], 1, '+Inf');
  assert.deepEqual([...rec.errors], [['reset', 1]]);
  const own = book.records.get('api\0')!;
  assert.deepEqual([...own.codes], [[503, 1]]);
  assert.equal(own.errors.size, 0, 'no instance failed: not a proxy error kind');
  assert.equal(own.window, undefined, 'tenement\'s own answers have no window');
  // v1 removed, then a new v1 under the same id: the old record goes, the new one starts at zero
  const v1b = { id: 'v1' };
  book.prune((s, id) => (s === 'api' && id === 'v1' ? v1b : undefined));
  assert.equal(book.records.has('api\0v1'), false);
  assert.ok(book.records.has('api\0'), 'tenement\'s own answers are kept');
  book.record('api', v1b, 200, 1, true, undefined);
  assert.deepEqual([...book.records.get('api\0v1')!.codes], [[200, 1]]);
});
