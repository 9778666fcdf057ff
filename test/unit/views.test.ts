// The JSON the management API sends, as the view functions build it (core/view.ts and
// deploy-workflows' journal.ts / shadow.ts, typed by plugins/deploy-workflows/view.ts — the types
// the `ten` CLI reads them with). Compared as JSON text, so a renamed, added, dropped or reordered
// key shows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { viewInstance } from '../../core/view.ts';
import type { Instance } from '../../core/index.ts';
import { viewHistory, viewOp, type HistoryEntry, type Operation } from '../../plugins/deploy-workflows/journal.ts';
import { viewShadow } from '../../plugins/deploy-workflows/shadow.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const ISO0 = '2025-01-01T12:00:00.000Z';

test('viewOp: times as ISO strings, no resume state, id a number', () => {
  const op: Operation = {
    id: 7, kind: 'rollout', service: 'api', params: { service: 'api', to: 'v2', steps: [10, 100] }, status: 'rolled-back',
    started_at: T0, finished_at: T0 + 1500, steps: [{ at: T0 + 10, message: 'step 1/2: v2 10%' }],
    error: { code: 'TEN_ERR_WORKFLOW_ROLLED_BACK', message: 'rolled back', hint: 'see ten history api' },
    state: { stable: { v1: 100 }, step: 0 },
  };
  assert.equal(JSON.stringify(viewOp(op)), JSON.stringify({
    id: 7, kind: 'rollout', service: 'api', params: { service: 'api', to: 'v2', steps: [10, 100] }, status: 'rolled-back',
    started_at: ISO0, finished_at: '2025-01-01T12:00:01.500Z', steps: [{ at: '2025-01-01T12:00:00.010Z', message: 'step 1/2: v2 10%' }],
    error: { code: 'TEN_ERR_WORKFLOW_ROLLED_BACK', message: 'rolled back', hint: 'see ten history api' },
  }));
  assert.equal(viewOp({ ...op, status: 'running', finished_at: null, error: null }).finished_at, null);
});

test('viewHistory: the entry with an ISO time', () => {
  const e: HistoryEntry = { id: 3, at: T0, service: 'api', kind: 'rollback', outcome: 'rolled-back', detail: 'rolled back api:v2', data: { op: 7 } };
  assert.equal(JSON.stringify(viewHistory(e)),
    `{"id":3,"at":"${ISO0}","service":"api","kind":"rollback","outcome":"rolled-back","detail":"rolled back api:v2","data":{"op":7}}`);
});

test('viewShadow: counts, and mean latencies over the compared requests (null before the first)', () => {
  const sh: Parameters<typeof viewShadow>[0] = {
    service: 'api', to: 'v2', percent: 10, startedAt: T0, active: true, mirrored: 12, skipped: 1, compared: 3, mismatches: 1,
    shadowErrors: 2, stableMs: 30, shadowMs: 36.5,
  };
  assert.equal(JSON.stringify(viewShadow(sh)), JSON.stringify({
    service: 'api', to: 'v2', percent: 10, active: true, started_at: ISO0, mirrored: 12, skipped: 1, compared: 3,
    status_mismatches: 1, shadow_errors: 2, stable_mean_ms: 10, shadow_mean_ms: 12.17, latency_diff_ms: 2.17,
  }));
  const none = viewShadow({ ...sh, compared: 0, stableMs: 0, shadowMs: 0 });
  assert.deepEqual([none.stable_mean_ms, none.shadow_mean_ms, none.latency_diff_ms], [null, null, null]);
});

test('viewInstance: the instance on the API', () => {
  const i = {
    service: 'api', id: 'v1', key: 'api:v1', state: 'running', weight: 80, health: 'healthy', port: 41234, socket: null, pid: 4242,
    startedAt: Date.now() - 5_000, restartTimes: [], restarts: 2, inflight: 1, ejectedUntil: 0,
    lastExit: { code: 1, signal: null, at: T0, reason: 'startup_timeout' }, lastRequestAt: 0, suspended: null,
  } satisfies Instance;
  const v = viewInstance(i);
  assert.equal(JSON.stringify(v), JSON.stringify({
    service: 'api', id: 'v1', key: 'api:v1', state: 'running', health: 'healthy', weight: 80, port: 41234, pid: 4242,
    socket: '127.0.0.1:41234', uptime_s: 5, started_at: new Date(i.startedAt).toISOString(), restarts: 2, inflight: 1, suspended: null,
    last_exit: { code: 1, signal: null, at: ISO0, reason: 'startup_timeout' },
  }));
  const stopped = viewInstance({ ...i, state: 'stopped', port: null, pid: null, startedAt: null, socket: '/run/x.sock', lastExit: null });
  assert.deepEqual([stopped.socket, stopped.uptime_s, stopped.started_at, stopped.last_exit], [null, null, null, null]);
  assert.equal(viewInstance({ ...i, socket: '/run/api-v1.sock' }).socket, '/run/api-v1.sock');
});
