// judge() of the automated canary (deploy-workflows/rollout.ts): a step is breached only when the
// canary is worse than the threshold AND worse than the stable instances, once it has
// MIN_REQUESTS requests in the step (or any at the step's last check).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MIN_REQUESTS, judge, type RolloutParams } from '../../plugins/deploy-workflows/rollout.ts';
import { Counters } from '../../plugins/deploy-workflows/stats.ts';
import type { Instance } from '../../core/index.ts';

const inst = (id: string) => ({ key: `api:${id}`, service: 'api', id }) as Instance;
const CANARY = inst('v2');
const S1 = inst('v1');
const S2 = inst('v1b');
const params = (over: Partial<RolloutParams> = {}): RolloutParams =>
  ({ service: 'api', to: 'v2', steps: [10, 50, 100], interval: 30, max_error_rate: 0.01, timeout: 30, ...over });

/** Counters with `n` requests per instance, `errors` of them 5xx, the first ones slow as given. */
function traffic(spec: Array<{ i: Instance; n: number; errors?: number; ms?: number; slow?: number; slowMs?: number }>): Counters {
  const c = new Counters();
  c.watch(spec.map((s) => s.i.key));
  for (const s of spec) {
    for (let k = 0; k < s.n; k++) c.add(s.i.key, k < (s.errors ?? 0) ? 500 : 200, k < (s.slow ?? 0) ? s.slowMs ?? 0 : s.ms ?? 5);
  }
  return c;
}

describe('judge()', () => {
  test('MIN_REQUESTS is 20', () => assert.equal(MIN_REQUESTS, 20));

  test('fewer than MIN_REQUESTS: no verdict until the step\'s last check, then any request counts', () => {
    const c = traffic([{ i: CANARY, n: MIN_REQUESTS - 1, errors: MIN_REQUESTS - 1 }, { i: S1, n: 100 }]);
    assert.equal(judge(c, params(), CANARY, [S1], false), undefined);
    assert.equal(judge(c, params(), CANARY, [S1], true), 'canary 5xx rate 100.0% (19/19) > max 1.0% (stable 0.0% of 100)');
    const none = traffic([{ i: CANARY, n: 0 }, { i: S1, n: 100, errors: 0 }]);
    assert.equal(judge(none, params(), CANARY, [S1], true), undefined, 'no request at all: nothing to judge');
    const enough = traffic([{ i: CANARY, n: MIN_REQUESTS, errors: 1 }, { i: S1, n: 100 }]);
    assert.equal(judge(enough, params(), CANARY, [S1], false), 'canary 5xx rate 5.0% (1/20) > max 1.0% (stable 0.0% of 100)');
  });

  test('error rate: above the threshold AND above the stable instances', () => {
    const p = params({ max_error_rate: 0.05 });
    // 10 % on the canary, 2 % on the stable ones: breach
    assert.equal(judge(traffic([{ i: CANARY, n: 100, errors: 10 }, { i: S1, n: 100, errors: 2 }, { i: S2, n: 100, errors: 2 }]), p, CANARY, [S1, S2], false),
      'canary 5xx rate 10.0% (10/100) > max 5.0% (stable 2.0% of 200)');
    // 10 % on the canary but the stable ones fail as much, or more: the canary is not to blame
    assert.equal(judge(traffic([{ i: CANARY, n: 100, errors: 10 }, { i: S1, n: 100, errors: 10 }]), p, CANARY, [S1], false), undefined);
    assert.equal(judge(traffic([{ i: CANARY, n: 100, errors: 10 }, { i: S1, n: 100, errors: 30 }]), p, CANARY, [S1], false), undefined);
    // worse than stable but not above the threshold; exactly at the threshold is not above it
    assert.equal(judge(traffic([{ i: CANARY, n: 100, errors: 4 }, { i: S1, n: 100 }]), p, CANARY, [S1], false), undefined);
    assert.equal(judge(traffic([{ i: CANARY, n: 100, errors: 5 }, { i: S1, n: 100 }]), p, CANARY, [S1], false), undefined);
    assert.match(judge(traffic([{ i: CANARY, n: 100, errors: 6 }, { i: S1, n: 100 }]), p, CANARY, [S1], false) ?? '', /^canary 5xx rate 6\.0% \(6\/100\)/);
    // the stable instances' rate is over all of them together: (0 + 20) / 200 = 10 %
    assert.equal(judge(traffic([{ i: CANARY, n: 100, errors: 8 }, { i: S1, n: 100 }, { i: S2, n: 100, errors: 20 }]), p, CANARY, [S1, S2], false), undefined);
    // no stable traffic: rate 0, so only the threshold counts
    assert.match(judge(traffic([{ i: CANARY, n: 100, errors: 6 }]), p, CANARY, [S1], false) ?? '', /stable 0\.0% of 0\)$/);
  });

  test('a busy step: 150,000 canary requests at 1 % 5xx are not above max_error_rate 1 % (the drift rolled them back)', () => {
    const c = traffic([{ i: CANARY, n: 150_000, errors: 1_500 }, { i: S1, n: 150_000, errors: 750 }]);
    assert.equal(judge(c, params({ max_error_rate: 0.01 }), CANARY, [S1], false), undefined);
  });

  test('p99: above max_p99_ms AND above the stable instances; not judged without max_p99_ms', () => {
    const p = params({ max_error_rate: 1, max_p99_ms: 100 });
    // 5 of 100 canary requests take 400 ms: its p99 is 400 ms (± 0.1 %)
    const slow = traffic([{ i: CANARY, n: 100, slow: 5, slowMs: 400 }, { i: S1, n: 1000, ms: 20 }]);
    assert.match(judge(slow, p, CANARY, [S1], false) ?? '', /^canary p99 400 ms > max 100 ms \(stable p99 20 ms\)$/);
    assert.equal(judge(slow, params({ max_error_rate: 1 }), CANARY, [S1], false), undefined, 'no latency threshold');
    // the stable instances are as slow: not the canary's fault
    const allSlow = traffic([{ i: CANARY, n: 100, slow: 5, slowMs: 400 }, { i: S1, n: 100, slow: 5, slowMs: 500 }]);
    assert.equal(judge(allSlow, p, CANARY, [S1], false), undefined);
    // 1 slow request in 200 is below the 99th percentile
    const rare = traffic([{ i: CANARY, n: 200, slow: 1, slowMs: 400 }, { i: S1, n: 100 }]);
    assert.equal(judge(rare, p, CANARY, [S1], false), undefined);
  });

  test('the error rate is judged before the latency', () => {
    const c = traffic([{ i: CANARY, n: 100, errors: 50, slow: 50, slowMs: 1000 }, { i: S1, n: 100 }]);
    assert.match(judge(c, params({ max_p99_ms: 100 }), CANARY, [S1], false) ?? '', /^canary 5xx rate 50\.0%/);
  });
});
