// The idle-scaler's wake queue (plugins/idle-scaler/queue.ts): requests waiting for one instance,
// bounded in number (TEN_ERR_SCALER_QUEUE_FULL) and in time (TEN_ERR_SCALER_WAKE_TIMEOUT), released
// first come first served. Timers are node:test's mock timers: no test waits for real time.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { WakeQueue } from '../../plugins/idle-scaler/queue.ts';
import { TenementError, type Instance } from '../../core/index.ts';

const inst = (key: string) => ({ key, service: key.split(':')[0], id: key.split(':')[1] }) as Instance;
const A = inst('api:a');
const B = inst('api:b');
/** Let settled promises run their callbacks (setImmediate is not mocked). */
const settle = () => new Promise((r) => setImmediate(r));

type Result = { ok: Instance } | { err: TenementError };
/** Wait on `q` and keep how (and in which order) each waiter ended. */
function waiter(q: WakeQueue, i: Instance, log: Array<[number, Result]>, n: number): void {
  q.wait(i).then((ok) => log.push([n, { ok }]), (err: TenementError) => log.push([n, { err }]));
}
const code = (r: Result | undefined) => (r && 'err' in r ? r.err.code : undefined);

describe('WakeQueue', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  test('size bounds the waiters of one instance: the next one is refused at once with TEN_ERR_SCALER_QUEUE_FULL', async () => {
    const q = new WakeQueue({ size: 3, waitMs: 30_000 });
    const log: Array<[number, Result]> = [];
    for (let n = 0; n < 3; n++) waiter(q, A, log, n);
    assert.equal(q.size(A), 3);
    waiter(q, A, log, 3);
    await settle();
    assert.equal(log.length, 1);
    const [n, r] = log[0];
    assert.equal(n, 3);
    assert.equal(code(r), 'TEN_ERR_SCALER_QUEUE_FULL');
    assert.match((r as { err: TenementError }).err.message, /api:a/);
    assert.equal(q.size(A), 3, 'the refused request is not queued');
    // the bound is per instance
    waiter(q, B, log, 4);
    assert.equal(q.size(B), 1);
    q.release(A);
    q.release(B);
    await settle();
    assert.deepEqual(log.map(([k]) => k), [3, 0, 1, 2, 4]);
  });

  test('a waiter not released within waitMs fails with TEN_ERR_SCALER_WAKE_TIMEOUT and leaves the queue', async () => {
    const q = new WakeQueue({ size: 10, waitMs: 5_000 });
    const log: Array<[number, Result]> = [];
    waiter(q, A, log, 0);
    mock.timers.tick(2_000);
    waiter(q, A, log, 1); // arrives 2 s later: its own 5 s
    mock.timers.tick(2_999);
    await settle();
    assert.equal(log.length, 0, 'nothing before 5 s');
    mock.timers.tick(1);
    await settle();
    assert.equal(log.length, 1);
    assert.equal(log[0][0], 0);
    assert.equal(code(log[0][1]), 'TEN_ERR_SCALER_WAKE_TIMEOUT');
    assert.match((log[0][1] as { err: TenementError }).err.message, /api:a/);
    assert.equal(q.size(A), 1, 'the timed-out waiter left, the other stays');
    mock.timers.tick(2_000);
    await settle();
    assert.deepEqual(log.map(([n, r]) => [n, code(r)]), [[0, 'TEN_ERR_SCALER_WAKE_TIMEOUT'], [1, 'TEN_ERR_SCALER_WAKE_TIMEOUT']]);
    assert.equal(q.size(A), 0);
  });

  test('a timed-out waiter frees its place for the next request', async () => {
    const q = new WakeQueue({ size: 1, waitMs: 1_000 });
    const log: Array<[number, Result]> = [];
    waiter(q, A, log, 0);
    mock.timers.tick(1_000);
    waiter(q, A, log, 1);
    q.release(A);
    await settle();
    assert.deepEqual(log.map(([n, r]) => [n, 'ok' in r ? 'ok' : code(r)]), [[0, 'TEN_ERR_SCALER_WAKE_TIMEOUT'], [1, 'ok']]);
  });

  test('release(): every waiter of that instance, first come first served, with the instance; no timeout after', async () => {
    const q = new WakeQueue({ size: 100, waitMs: 1_000 });
    const log: Array<[number, Result]> = [];
    for (let n = 0; n < 50; n++) waiter(q, n % 5 === 4 ? B : A, log, n);
    q.release(A);
    assert.equal(q.size(A), 0);
    assert.equal(q.size(B), 10);
    await settle();
    const expected = Array.from({ length: 50 }, (_, n) => n).filter((n) => n % 5 !== 4);
    assert.deepEqual(log.map(([n]) => n), expected);
    assert.ok(log.every(([, r]) => 'ok' in r && r.ok === A));
    mock.timers.tick(1_000); // released waiters' timers were cleared: only B's 10 time out
    await settle();
    assert.equal(log.length, 50);
    assert.deepEqual(log.slice(40).map(([n, r]) => [n % 5, code(r)]), Array(10).fill([4, 'TEN_ERR_SCALER_WAKE_TIMEOUT']));
    q.release(A); // nothing waiting: nothing happens
  });

  test('release(inst, err): every waiter fails with err, in order', async () => {
    const q = new WakeQueue({ size: 10, waitMs: 1_000 });
    const log: Array<[number, Result]> = [];
    for (let n = 0; n < 3; n++) waiter(q, A, log, n);
    const err = new TenementError('TEN_ERR_SCALER_WAKE_FAILED', [A.key, 'it is failed']);
    q.release(A, err);
    await settle();
    assert.deepEqual(log.map(([n]) => n), [0, 1, 2]);
    assert.ok(log.every(([, r]) => 'err' in r && r.err === err));
  });

  test('releaseAll(): every instance\'s waiters fail with err(key), in order, and the queues are empty', async () => {
    const q = new WakeQueue({ size: 10, waitMs: 1_000 });
    const log: Array<[number, Result]> = [];
    for (let n = 0; n < 6; n++) waiter(q, n % 2 ? B : A, log, n);
    const keys: string[] = [];
    q.releaseAll((key) => {
      keys.push(key);
      return new TenementError('TEN_ERR_SCALER_WAKE_FAILED', [key, 'ten serve is shutting down']);
    });
    assert.equal(q.size(A) + q.size(B), 0);
    await settle();
    assert.deepEqual(keys, ['api:a', 'api:a', 'api:a', 'api:b', 'api:b', 'api:b']);
    assert.deepEqual(log.map(([n]) => n), [0, 2, 4, 1, 3, 5]);
    for (const [n, r] of log) {
      assert.equal(code(r), 'TEN_ERR_SCALER_WAKE_FAILED');
      assert.match((r as { err: TenementError }).err.message, new RegExp(n % 2 ? 'api:b' : 'api:a'));
    }
    mock.timers.tick(1_000);
    await settle();
    assert.equal(log.length, 6, 'no timeout after releaseAll');
  });
});
