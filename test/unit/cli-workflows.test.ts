// The workflow commands of the `ten` CLI (deploy, route, rollout, shadow, history): value parsers,
// formatters, following an operation (with a scripted poll function, no server), and bad arguments
// through the real CLI as a child process against a closed port (they must fail before any request
// is sent). The commands against a real ten serve: test/integration/cli-workflows.test.ts.
process.env.TZ = 'UTC';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TenementError } from '../../core/errors.ts';
import { closedPort, runTen } from './cli-process.ts';
import { parseDuration, parseInteger, parseMilliseconds, parseRatio, parseSeconds, parseSteps, parseVersionRef } from '../../cli/durations.ts';
import { followOperation, formatOperationFailure, progressMode } from '../../cli/progress.ts';
import {
  formatElapsed, formatHistory, formatLocalTime, formatOperation, formatOperationSummary, formatShadow, formatStep, formatWeights,
} from '../../cli/table.ts';
import type { HistoryEntryView, OperationView, ShadowView } from '../../plugins/deploy-workflows/view.ts';


function throwsCode(fn: () => unknown, code: string, message?: RegExp) {
  assert.throws(fn, (e: unknown) => e instanceof TenementError && e.code === code && (!message || message.test(e.message)));
}

function operation(over: Partial<OperationView> = {}): OperationView {
  return {
    id: 1, kind: 'deploy', service: 'api', params: { service: 'api', version: 'v2' }, status: 'running',
    started_at: '2025-01-01T12:00:00.000Z', finished_at: null, steps: [], error: null, ...over,
  };
}

// ---------------------------------------------------------------- value parsers

test('parseDuration: units, bare numbers in the given unit, > 0 only', () => {
  assert.equal(parseDuration('30s', 's', '--interval'), 30_000);
  assert.equal(parseDuration('500ms', 's', '--interval'), 500);
  assert.equal(parseDuration('1m', 's', '--interval'), 60_000);
  assert.equal(parseDuration('1h', 's', '--interval'), 3_600_000);
  assert.equal(parseDuration('1.5s', 'ms', '--max-p99'), 1500);
  assert.equal(parseDuration('30', 's', '--interval'), 30_000);
  assert.equal(parseDuration('250', 'ms', '--max-p99'), 250);
  for (const bad of ['abc', '', '0', '0s', '-1', '-5s', '1.', '.5s', '5 s', '5sec', '5S', '1e3', '1m30s', 's', '9'.repeat(400)]) {
    throwsCode(() => parseDuration(bad, 's', '--interval'), 'TEN_ERR_CLI_INVALID_ARGUMENT', /^invalid --interval /);
  }
});

test('parseSeconds (--interval, --timeout) and parseMilliseconds (--max-p99)', () => {
  assert.equal(parseSeconds('60', '--timeout'), 60);
  assert.equal(parseSeconds('60s', '--timeout'), 60);
  assert.equal(parseSeconds('2m', '--timeout'), 120);
  assert.equal(parseSeconds('500ms', '--interval'), 0.5);
  assert.equal(parseMilliseconds('500ms', '--max-p99'), 500);
  assert.equal(parseMilliseconds('1s', '--max-p99'), 1000);
  assert.equal(parseMilliseconds('500', '--max-p99'), 500);
  throwsCode(() => parseMilliseconds('fast', '--max-p99'), 'TEN_ERR_CLI_INVALID_ARGUMENT', /--max-p99 "fast".*bare number is in milliseconds/);
});

test('parseSteps: comma-separated whole numbers 1-100, strictly increasing', () => {
  assert.deepEqual(parseSteps('5,25,50,100'), [5, 25, 50, 100]);
  assert.deepEqual(parseSteps('100'), [100]);
  assert.deepEqual(parseSteps('1, 2'), [1, 2]);
  throwsCode(() => parseSteps('5,3'), 'TEN_ERR_CLI_INVALID_ARGUMENT', /steps must increase \(5 then 3\)/);
  throwsCode(() => parseSteps('5,5'), 'TEN_ERR_CLI_INVALID_ARGUMENT', /must increase/);
  throwsCode(() => parseSteps('0,50'), 'TEN_ERR_CLI_INVALID_ARGUMENT', /"0" is not a whole number from 1 to 100/);
  for (const bad of ['', '5,', ',5', '5,,10', '101', '5,250', '2.5', 'a,b', '-5', '5;10', '+5']) {
    throwsCode(() => parseSteps(bad), 'TEN_ERR_CLI_INVALID_ARGUMENT', /^invalid --steps /);
  }
});

test('parseRatio and parseInteger', () => {
  assert.equal(parseRatio('0.01', '--max-error-rate'), 0.01);
  assert.equal(parseRatio('0', '--max-error-rate'), 0);
  assert.equal(parseRatio('1', '--max-error-rate'), 1);
  assert.equal(parseRatio('.5', '--max-error-rate'), 0.5);
  for (const bad of ['1.5', '2', '-0.1', '', '.', '1%', 'abc', '1e-2']) throwsCode(() => parseRatio(bad, '--max-error-rate'), 'TEN_ERR_CLI_INVALID_ARGUMENT');
  assert.equal(parseInteger('1', '--batch', 1), 1);
  assert.equal(parseInteger('100', '--percent', 1, 100), 100);
  throwsCode(() => parseInteger('0', '--batch', 1), 'TEN_ERR_CLI_INVALID_ARGUMENT', /whole number 1 or more/);
  throwsCode(() => parseInteger('101', '--percent', 1, 100), 'TEN_ERR_CLI_INVALID_ARGUMENT', /from 1 to 100/);
  for (const bad of ['1.0', '+1', ' 1', '', 'x']) throwsCode(() => parseInteger(bad, '--limit', 1), 'TEN_ERR_CLI_INVALID_ARGUMENT');
});

test('parseVersionRef: service:version and --version; both are DNS labels', () => {
  assert.deepEqual(parseVersionRef('api:v2'), { service: 'api', version: 'v2', key: 'api:v2' });
  assert.deepEqual(parseVersionRef('api', 'v2'), { service: 'api', version: 'v2', key: 'api:v2' });
  assert.deepEqual(parseVersionRef('api:v2', 'v2'), { service: 'api', version: 'v2', key: 'api:v2' });
  throwsCode(() => parseVersionRef('api'), 'TEN_ERR_CLI_INVALID_ARGUMENT', /missing version for "api"/);
  throwsCode(() => parseVersionRef('api:v2', 'v3'), 'TEN_ERR_CLI_INVALID_ARGUMENT', /conflicting versions/);
  for (const [ref, v] of [['A B', 'v2'], ['api:V2', undefined], ['api', 'v_2'], ['api:', undefined], ['api:v2:x', undefined], ['api', 'x'.repeat(64)]]) {
    throwsCode(() => parseVersionRef(ref!, v), 'TEN_ERR_API_INVALID_NAME');
  }
});

// ---------------------------------------------------------------- formatters

test('times: local YYYY-MM-DD HH:MM:SS, steps as [HH:MM:SS] message, elapsed', () => {
  assert.equal(formatLocalTime('2025-01-02T03:04:05.678Z'), '2025-01-02 03:04:05');
  assert.equal(formatLocalTime(null), '-');
  assert.equal(formatLocalTime('yesterday'), 'yesterday');
  assert.equal(formatStep({ at: '2025-01-01T12:00:01Z', message: 'starting api:v2\n(port 41234)' }), '[12:00:01] starting api:v2 (port 41234)');
  assert.equal(formatElapsed(0), '0ms');
  assert.equal(formatElapsed(47), '47ms');
  assert.equal(formatElapsed(420), '0.4s');
  assert.equal(formatElapsed(4000), '4s');
  assert.equal(formatElapsed(4260), '4.2s');
  assert.equal(formatElapsed(125_000), '2m5s');
  assert.equal(formatElapsed(3_780_000), '1h3m');
  assert.equal(formatElapsed(-1), '-');
});

test('formatHistory: TIME SERVICE KIND OUTCOME DETAIL, newest last', () => {
  const entry = (at: string, kind: HistoryEntryView['kind'], outcome: HistoryEntryView['outcome'], detail: string, service = 'api'): HistoryEntryView =>
    ({ id: Date.parse(at), at, service, kind, outcome, detail, data: {} });
  const out = formatHistory([
    entry('2025-01-01T12:05:00Z', 'rollback', 'rolled-back', 'rolled back api:v3: error rate 4.1% above 1%'),
    entry('2025-01-01T12:00:00Z', 'deploy', 'ok', 'deployed api:v2 (weight 100)'),
    entry('2025-01-01T12:01:30Z', 'rollout-step', 'ok', 'api:v3 at 5%', 'web'),
  ]);
  assert.equal(out, [
    'TIME                SERVICE  KIND         OUTCOME     DETAIL',
    '2025-01-01 12:00:00 api      deploy       ok          deployed api:v2 (weight 100)',
    '2025-01-01 12:01:30 web      rollout-step ok          api:v3 at 5%',
    '2025-01-01 12:05:00 api      rollback     rolled-back rolled back api:v3: error rate 4.1% above 1%',
    '',
  ].join('\n'));
  assert.equal(formatHistory([]), 'TIME                SERVICE  KIND         OUTCOME     DETAIL\n');
});

const SHADOW: ShadowView = {
  service: 'api', to: 'v2', percent: 10, active: true, started_at: '2025-01-01T12:00:00Z', mirrored: 1200, skipped: 35,
  compared: 1190, status_mismatches: 2, shadow_errors: 0, stable_mean_ms: 12.34, shadow_mean_ms: 14.1, latency_diff_ms: 1.76,
};

test('formatShadow: a key/value table of the comparison', () => {
  assert.equal(formatShadow(SHADOW), [
    'shadow             api → api:v2, 10% of requests',
    'started            2025-01-01 12:00:00',
    'mirrored           1200',
    'skipped            35',
    'compared           1190',
    'status mismatches  2 (0.17%)',
    'shadow errors      0',
    'mean latency       stable 12.3ms, shadow 14.1ms',
    'difference         +1.8ms (shadow slower)',
    '',
  ].join('\n'));
  const idle = formatShadow({ ...SHADOW, active: false, mirrored: 0, compared: 0, status_mismatches: 0, stable_mean_ms: null, shadow_mean_ms: null, latency_diff_ms: null });
  assert.match(idle, /^shadow +api → api:v2, 10% of requests \(stopped\)$/m);
  assert.match(idle, /^status mismatches  0$/m);
  assert.match(idle, /^mean latency +stable -, shadow -$/m);
  assert.match(idle, /^difference +-$/m);
  assert.match(formatShadow({ ...SHADOW, latency_diff_ms: -0.4 }), /^difference +-0\.4ms \(shadow faster\)$/m);
  // one decimal always: `stable 2.7ms, shadow 2ms` read as different precisions (issue 13)
  assert.match(formatShadow({ ...SHADOW, stable_mean_ms: 2.7, shadow_mean_ms: 2 }), /^mean latency +stable 2\.7ms, shadow 2\.0ms$/m);
});

test('formatWeights: one line per instance', () => {
  assert.equal(formatWeights({ service: 'api', weights: { blue: 0, green: 100 } }), 'api:blue   weight 0\napi:green  weight 100\n');
  assert.equal(formatWeights({ service: 'api', weights: {} }), 'api: no instances\n');
});

test('formatOperation (rollout status), summary and failure', () => {
  const running = operation({
    kind: 'rollout', params: { service: 'api', to: 'v2', steps: [5, 25, 50, 100], interval: 30 },
    steps: [{ at: '2025-01-01T12:00:00Z', message: 'api:v2 at 5%' }, { at: '2025-01-01T12:00:30Z', message: 'api:v2 at 25%' }],
  });
  assert.equal(formatOperation(running), [
    'kind      rollout',
    'target    api:v2',
    'id        1',
    'status    running',
    'started   2025-01-01 12:00:00',
    'finished  -',
    'plan      5% → 25% → 50% → 100%, 30s per step',
    'current   api:v2 at 25%',
    'steps',
    '  [12:00:00] api:v2 at 5%',
    '  [12:00:30] api:v2 at 25%',
    '',
  ].join('\n'));
  const rolledBack = {
    ...running, status: 'rolled-back' as const, finished_at: '2025-01-01T12:01:03Z',
    error: { code: 'TEN_ERR_WORKFLOW_ROLLED_BACK', message: 'rollout of api rolled back: error rate 4% above 1%', hint: 'see `ten history api`' },
  };
  const text = formatOperation(rolledBack);
  assert.match(text, /^finished  2025-01-01 12:01:03 \(after 1m3s\)$/m);
  assert.doesNotMatch(text, /^current/m);
  assert.match(text, /^error     TEN_ERR_WORKFLOW_ROLLED_BACK: rollout of api rolled back: error rate 4% above 1%\nhint      see `ten history api`\nsteps\n/m);
  assert.equal(formatOperationSummary(rolledBack), 'rollout of api:v2 rolled-back in 1m3s');
  assert.equal(formatOperationSummary(operation({ status: 'succeeded', finished_at: '2025-01-01T12:00:04.2Z' })), 'deploy of api:v2 succeeded in 4.2s');
  assert.equal(formatOperationSummary(operation({ kind: 'rolling' })), 'rolling deploy of api:v2 running');
  assert.equal(formatOperationFailure(rolledBack), 'error TEN_ERR_WORKFLOW_ROLLED_BACK: rollout of api rolled back: error rate 4% above 1%\n  hint: see `ten history api`\n');
  assert.equal(
    formatOperationFailure({ ...running, status: 'aborted', error: null }),
    'error: rollout of api:v2 aborted: api:v2 at 25%\n  hint: see `ten history api`\n',
  );
});

// ---------------------------------------------------------------- following an operation

/** An operation that gains one step per poll and succeeds (or ends `end`) after `n` steps. */
function scripted(n: number, end: OperationView['status'] = 'succeeded') {
  let polls = 0;
  const at = (i: number) => new Date(Date.UTC(2025, 0, 1, 12, 0, i)).toISOString();
  return async (id: number): Promise<OperationView> => {
    polls++;
    const steps = Array.from({ length: Math.min(polls, n) }, (_, i) => ({ at: at(i + 1), message: `step ${i + 1}` }));
    const done = polls >= n;
    return operation({ id, steps, status: done ? end : 'running', finished_at: done ? at(n) : null });
  };
}

function sink(isTTY = false) {
  let text = '';
  return { out: { isTTY, columns: 40, write: (c: string) => (text += c) }, text: () => text };
}

test('followOperation, plain: each new step as a line, once', async () => {
  const s = sink();
  const final = await followOperation(operation(), scripted(3), { mode: 'plain', out: s.out, pollMs: 1 });
  assert.equal(final.status, 'succeeded');
  assert.equal(s.text(), '[12:00:01] step 1\n[12:00:02] step 2\n[12:00:03] step 3\n');
});

test('followOperation, tty: spinner line rewritten, finished steps as lines, line cleared at the end', async () => {
  const s = sink(true);
  await followOperation(operation(), scripted(3), { mode: 'tty', out: s.out, pollMs: 1 });
  const text = s.text();
  assert.match(text, /\r\x1b\[2K⠋ deploy of api:v2: starting \(0s\)/);
  assert.match(text, /\r\x1b\[2K. step 1 \(0s\)/);
  // Lines that stay: the steps, in order, each once; nothing after the last clear.
  const kept = text.split('\r\x1b[2K').map((chunk) => chunk.split('\n').slice(0, -1)).flat();
  assert.deepEqual(kept, ['[12:00:01] step 1', '[12:00:02] step 2', '[12:00:03] step 3']);
  assert.ok(text.endsWith('[12:00:03] step 3\n'));
  // Never wider than the terminal.
  const long = sink(true);
  await followOperation(operation({ steps: [{ at: '2025-01-01T12:00:00Z', message: 'x'.repeat(100) }] }), scripted(1), { mode: 'tty', out: long.out, pollMs: 1 });
  for (const chunk of long.text().split('\r\x1b[2K')) assert.ok([...chunk.replace(/\n$/, '')].length <= 39 || chunk.startsWith('['), chunk);
});

test('followOperation, silent; a short outage of the server is waited out, a long one is not', async () => {
  const s = sink(true);
  let calls = 0;
  const get = scripted(2);
  const flaky = (id: number) => (++calls === 1 ? Promise.reject(Object.assign(new Error('down'), { code: 'TEN_ERR_CLI_SERVER_UNREACHABLE' })) : get(id));
  assert.equal((await followOperation(operation(), flaky, { mode: 'silent', out: s.out, pollMs: 1 })).status, 'succeeded');
  assert.equal(s.text(), '');
  const down = () => Promise.reject(Object.assign(new Error('down'), { code: 'TEN_ERR_CLI_SERVER_UNREACHABLE' }));
  await assert.rejects(followOperation(operation(), down, { mode: 'tty', out: s.out, pollMs: 1, graceMs: 20 }), /down/);
  assert.ok(s.text().endsWith('\r\x1b[2K'), 'the spinner line is cleared before the error');
  const other = () => Promise.reject(Object.assign(new Error('gone'), { code: 'TEN_ERR_API_UNAUTHORIZED' }));
  await assert.rejects(followOperation(operation(), other, { mode: 'plain', out: s.out, pollMs: 1 }), /gone/);
});

test('progressMode: tty only on a terminal without NO_COLOR and without --json', () => {
  assert.equal(progressMode({ isTTY: true, write: () => 0 }, false, {}), 'tty');
  assert.equal(progressMode({ isTTY: true, write: () => 0 }, false, { NO_COLOR: '1' }), 'plain');
  assert.equal(progressMode({ isTTY: false, write: () => 0 }, false, {}), 'plain');
  assert.equal(progressMode({ isTTY: true, write: () => 0 }, true, {}), 'silent');
});

// ---------------------------------------------------------------- bad arguments, through the real CLI

// Nothing listens there: if validation did not come first, these would fail with SERVER_UNREACHABLE.
const port = await closedPort();
const NOWHERE = { TENEMENT_SERVER: `http://127.0.0.1:${port}`, TENEMENT_TOKEN: 't' };
const ROLLOUT = ['rollout', 'api', '--to', 'v2'];

for (const [args, code, exit] of [
  [[...ROLLOUT, '--steps', '5,3', '--interval', '30s'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [[...ROLLOUT, '--steps', '0,50', '--interval', '30s'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [[...ROLLOUT, '--steps', '5,50', '--interval', 'abc'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [[...ROLLOUT, '--steps', '5,50', '--interval', '30s', '--max-p99', 'fast'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [[...ROLLOUT, '--steps', '5,50', '--interval', '30s', '--max-error-rate', '2'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [['rollout', 'api', '--steps', '5,50', '--interval', '30s'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 2],
  [['rollout', 'A B', '--to', 'v2', '--steps', '5', '--interval', '1s'], 'TEN_ERR_API_INVALID_NAME', 1],
  [['deploy', 'api:v2', '--weight', '101'], 'TEN_ERR_API_INVALID_WEIGHT', 1],
  [['deploy', 'api:v2', '--weight', '-1'], 'TEN_ERR_API_INVALID_WEIGHT', 1],
  [['deploy', 'A B'], 'TEN_ERR_API_INVALID_NAME', 1],
  [['deploy', 'api', '--version', 'V2'], 'TEN_ERR_API_INVALID_NAME', 1],
  [['deploy', 'api'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [['deploy', 'api:v2', '--timeout', '0'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [['deploy', 'api:v2', '--strategy', 'yolo'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [['deploy', 'api:v2', '--batch', '2'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [['route', 'api', '--from', 'blue', '--to', 'blue'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [['route', 'api', '--from', 'blue', '--to', '../x'], 'TEN_ERR_API_INVALID_NAME', 1],
  [['shadow', 'api', '--to', 'v2', '--percent', '0'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [['shadow', 'status', 'A B'], 'TEN_ERR_API_INVALID_NAME', 1],
  [['history', '--limit', '0'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 1],
  [['rollout', 'status'], 'TEN_ERR_CLI_INVALID_ARGUMENT', 2],
] as const) {
  test(`ten ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')} fails with ${code} before any request`, async () => {
    const r = await runTen([...args], { env: NOWHERE });
    assert.equal(r.code, exit);
    assert.match(r.stderr, new RegExp(`^error ${code}: .+\\n  hint: .+`));
    assert.doesNotMatch(r.stderr, /SERVER_UNREACHABLE/);
    assert.equal(r.stdout, '');
  });
}

test('usage errors of subcommands name the subcommand and its required options', async () => {
  const r = await runTen(['rollout', 'api', '--to', 'v2'], { env: NOWHERE });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error TEN_ERR_CLI_INVALID_ARGUMENT: missing --steps STEPS, --interval DURATION\n'
    + '  hint: usage: ten rollout <service> --to VERSION --steps STEPS --interval DURATION [options] (see `ten help rollout`)\n');
  const s = await runTen(['shadow', 'status', 'api', '--to', 'v2'], { env: NOWHERE });
  assert.equal(s.code, 2);
  assert.equal(s.stderr, 'error TEN_ERR_CLI_UNKNOWN_OPTION: unknown option --to for `ten shadow status`\n  hint: `ten help COMMAND` lists the options of a command\n');
});

test('a valid command against the closed port does reach the network (SERVER_UNREACHABLE)', async () => {
  const r = await runTen(['deploy', 'api:v2', '--timeout', '60s'], { env: NOWHERE });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error TEN_ERR_CLI_SERVER_UNREACHABLE: /);
});
