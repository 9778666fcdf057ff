// The `ten ps` and `ten health` tables: pure formatters, checked against the table in the docs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHealth, formatPs, formatTable, formatUptime } from '../../cli/table.ts';
import type { InstanceView } from '../../core/view.ts';

function view(over: Partial<InstanceView>): InstanceView {
  return {
    service: 'api', id: 'v1', key: 'api:v1', state: 'running', health: 'healthy', weight: 100, port: 41234, pid: 1234,
    socket: '127.0.0.1:41234', uptime_s: 10, started_at: null, restarts: 0, inflight: 0, suspended: null, last_exit: null, ...over,
  };
}

test('formatUptime: largest whole unit, "-" without uptime', () => {
  assert.equal(formatUptime(0), '0s');
  assert.equal(formatUptime(45), '45s');
  assert.equal(formatUptime(59.9), '59s');
  assert.equal(formatUptime(60), '1m');
  assert.equal(formatUptime(5 * 60 + 59), '5m');
  assert.equal(formatUptime(3 * 3600), '3h');
  assert.equal(formatUptime(86399), '23h');
  assert.equal(formatUptime(2 * 86400 + 5), '2d');
  assert.equal(formatUptime(null), '-');
  assert.equal(formatUptime(undefined), '-');
  assert.equal(formatUptime(-1), '-');
});

test('formatPs reproduces the table of the docs, then STATE PID RESTARTS', () => {
  const out = formatPs([
    view({ key: 'api:v1', socket: '/tmp/tenement/api-v1.sock', uptime_s: 2 * 86400, weight: 80, pid: 4242, restarts: 1 }),
    view({ key: 'api:v2', id: 'v2', socket: '/tmp/tenement/api-v2.sock', uptime_s: 5 * 60, weight: 20, pid: 4343 }),
  ]);
  const lines = out.split('\n');
  // The seed's lines, byte for byte, as the start of each line.
  assert.ok(lines[0]!.startsWith('INSTANCE     SOCKET                           UPTIME    HEALTH    WEIGHT'), lines[0]);
  assert.ok(lines[1]!.startsWith('api:v1       /tmp/tenement/api-v1.sock        2d        healthy   80'), lines[1]);
  assert.ok(lines[2]!.startsWith('api:v2       /tmp/tenement/api-v2.sock        5m        healthy   20'), lines[2]);
  assert.deepEqual(lines[0]!.split(/\s+/), ['INSTANCE', 'SOCKET', 'UPTIME', 'HEALTH', 'WEIGHT', 'STATE', 'PID', 'RESTARTS']);
  assert.deepEqual(lines[1]!.split(/\s+/).slice(5), ['running', '4242', '1']);
  assert.equal(lines[3], '');
  assert.equal(lines.length, 4, 'ends with one newline');
  for (const l of lines) assert.equal(l, l.trimEnd(), 'no trailing spaces');
});

test('formatPs: columns line up and grow for long cells; "-" for missing values', () => {
  const long = 'service-with-a-long-name:instance-with-a-long-id';
  const out = formatPs([
    view({ key: long }),
    view({ key: 'web:prod', state: 'failed', health: 'unknown', socket: null, pid: null, uptime_s: null, restarts: 5 }),
    view({ key: 'web:idle', state: 'idle', socket: null, pid: null, uptime_s: 30 }),
  ]);
  const lines = out.trimEnd().split('\n');
  const col = (line: string, word: string) => line.indexOf(word);
  assert.equal(col(lines[0]!, 'SOCKET'), long.length + 1);
  assert.equal(col(lines[1]!, '127.0.0.1:41234'), long.length + 1);
  assert.deepEqual(lines[2]!.split(/\s+/), ['web:prod', '-', '-', 'unknown', '100', 'failed', '-', '5']);
  assert.deepEqual(lines[3]!.split(/\s+/).slice(0, 3), ['web:idle', '-', '-'], 'no uptime when not running');
});

test('formatPs with no instances prints the header only', () => {
  assert.equal(formatPs([]), 'INSTANCE     SOCKET                           UPTIME    HEALTH    WEIGHT STATE      PID     RESTARTS\n');
});

test('formatTable pads every column but the last', () => {
  assert.equal(formatTable([{ header: 'A', min: 3 }, { header: 'B', min: 0 }], [['xxxxx', 'y']]), 'A     B\nxxxxx y\n');
});

test('formatHealth: INSTANCE HEALTH DETAIL LATENCY', () => {
  const a = view({ key: 'api:v1' });
  const b = view({ key: 'api:v2', id: 'v2' });
  const c = view({ key: 'api:v3', id: 'v3', state: 'idle' });
  const out = formatHealth([
    { instance: a, result: { instance: a, probe: { ok: true, detail: 'HTTP 200', latencyMs: 3.4 } } },
    { instance: b, result: { instance: b, probe: { ok: false, detail: 'ECONNREFUSED', latencyMs: 1 } } },
    { instance: c, result: null },
  ]);
  assert.deepEqual(out.split('\n')[0]!.split(/\s+/), ['INSTANCE', 'HEALTH', 'DETAIL', 'LATENCY']);
  assert.match(out, /^api:v1 +healthy +HTTP 200 +3ms$/m);
  assert.match(out, /^api:v2 +unhealthy +ECONNREFUSED +1ms$/m);
  assert.match(out, /^api:v3 +- +not probed \(idle\) +-$/m);
  assert.equal(out.trimEnd().split('\n').length, 4);
});
