// Pure formatters for the tables the CLI prints. Columns are left-aligned and padded with spaces;
// the minimum widths reproduce the `ten ps` table of the original docs exactly.
import type { HealthView, InstanceView } from '../core/view.ts';
import type { HistoryEntryView, OperationStepView, OperationView, RouteView, ShadowView } from '../plugins/deploy-workflows/view.ts';

interface Column {
  header: string;
  /** Minimum width before the one-space gap; a column grows to fit its longest cell. */
  min: number;
}

export function formatTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((c, i) => Math.max(c.min, c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join(' ').trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n') + '\n';
}

/** 45s, 5m, 3h, 2d — the largest whole unit, rounded down; "-" when there is no uptime. */
export function formatUptime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** States in which there is no live process, so no uptime to show. */
const NOT_RUNNING = new Set(['stopped', 'failed', 'idle', 'restarting']);

const PS_COLUMNS: readonly Column[] = [
  { header: 'INSTANCE', min: 12 },
  { header: 'SOCKET', min: 32 },
  { header: 'UPTIME', min: 9 },
  { header: 'HEALTH', min: 9 },
  { header: 'WEIGHT', min: 6 },
  { header: 'STATE', min: 10 },
  { header: 'PID', min: 7 },
  { header: 'RESTARTS', min: 8 },
];

export function formatPs(instances: readonly InstanceView[]): string {
  const rows = instances.map((i) => [
    i.key ?? `${i.service}:${i.id}`,
    i.socket ?? '-',
    NOT_RUNNING.has(i.state) ? '-' : formatUptime(i.uptime_s),
    i.health,
    String(i.weight),
    i.suspended ? `${i.state} (${i.suspended})` : i.state,
    i.pid === null || i.pid === undefined ? '-' : String(i.pid),
    String(i.restarts ?? 0),
  ]);
  return formatTable(PS_COLUMNS, rows);
}

const HEALTH_COLUMNS: readonly Column[] = [
  { header: 'INSTANCE', min: 12 },
  { header: 'HEALTH', min: 9 },
  { header: 'DETAIL', min: 24 },
  { header: 'LATENCY', min: 7 },
];

/** One row per instance; a null result means the instance was not probed (stopped or idle). */
export function formatHealth(rows: ReadonlyArray<{ instance: InstanceView; result: HealthView | null }>): string {
  return formatTable(
    HEALTH_COLUMNS,
    rows.map(({ instance, result }) =>
      result === null
        ? [instance.key, '-', `not probed (${instance.state})`, '-']
        : [instance.key, result.probe.ok ? 'healthy' : 'unhealthy', result.probe.detail, `${Math.round(result.probe.latencyMs)}ms`],
    ),
  );
}

// ---------------------------------------------------------------- deploy workflows

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local `YYYY-MM-DD HH:MM:SS` of an ISO time; the input unchanged if it is not a time, `-` if none. */
export function formatLocalTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Local `HH:MM:SS` of an ISO time. */
function formatClock(iso: string): string {
  const full = formatLocalTime(iso);
  return /^\d{4}-\d\d-\d\d /.test(full) ? full.slice(11) : full;
}

/** One step of an operation, as `ten deploy` and `ten rollout` print it: `[12:00:01] message`. */
export function formatStep(step: OperationStepView): string {
  return `[${formatClock(step.at)}] ${oneLine(step.message)}`;
}

/** 87ms, 0.4s, 12s, 2m5s, 1h3m: milliseconds below 0.1 s (a deploy that took 50 ms did not take
 *  `0s`), tenths of seconds below a minute, then whole units; `-` if unknown. */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 100) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.floor(ms / 100) / 10}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** The version an operation deploys or rolls out to (params.version or params.to), if known. */
function operationTarget(op: OperationView): string | undefined {
  const t = op.params?.version ?? op.params?.to;
  return typeof t === 'string' && t !== '' ? t : undefined;
}

/** `deploy of api:v2`, `rolling deploy of api:v2`, `rollout of api:v2`. */
export function operationLabel(op: OperationView): string {
  const what = op.kind === 'rolling' ? 'rolling deploy' : op.kind;
  const target = operationTarget(op);
  return `${what} of ${target === undefined ? op.service : `${op.service}:${target}`}`;
}

/** Time from start to end of a finished operation, e.g. `4.2s`; undefined while it runs. */
function operationElapsed(op: OperationView): string | undefined {
  if (!op.finished_at) return undefined;
  const ms = Date.parse(op.finished_at) - Date.parse(op.started_at);
  return Number.isFinite(ms) && ms >= 0 ? formatElapsed(ms) : undefined;
}

/** The last line `ten deploy` / `ten rollout` print: `deploy of api:v2 succeeded in 4.2s`. */
export function formatOperationSummary(op: OperationView): string {
  const took = operationElapsed(op);
  return `${operationLabel(op)} ${op.status}${took === undefined ? '' : ` in ${took}`}`;
}

/** Rows of `key  value`, the keys padded to the longest one plus two spaces. */
function formatKeyValues(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${k.padEnd(width)}${v}`.trimEnd()).join('\n') + '\n';
}

/** `ten rollout status`: what, status, times, plan, the latest step, every step, and the error. */
export function formatOperation(op: OperationView): string {
  const target = operationTarget(op);
  const took = operationElapsed(op);
  const rows: Array<[string, string]> = [
    ['kind', op.kind],
    ['target', target === undefined ? op.service : `${op.service}:${target}`],
    ['id', String(op.id)],
    ['status', op.status],
    ['started', formatLocalTime(op.started_at)],
    ['finished', op.finished_at ? `${formatLocalTime(op.finished_at)}${took === undefined ? '' : ` (after ${took})`}` : '-'],
  ];
  const { steps, interval } = op.params ?? {};
  if (Array.isArray(steps)) rows.push(['plan', `${steps.join('% → ')}%${typeof interval === 'number' ? `, ${formatElapsed(interval * 1000)} per step` : ''}`]);
  const last = op.steps.at(-1);
  if (op.status === 'running') rows.push(['current', last ? oneLine(last.message) : '(starting)']);
  if (op.error) {
    rows.push(['error', `${op.error.code}: ${oneLine(op.error.message)}`]);
    if (op.error.hint) rows.push(['hint', oneLine(op.error.hint)]);
  }
  rows.push(['steps', op.steps.length === 0 ? '(none yet)' : '']);
  return formatKeyValues(rows) + op.steps.map((s) => `  ${formatStep(s)}\n`).join('');
}

/** `ten route`: one line per instance, `api:v1  weight 0`, in the order the server sent them. */
export function formatWeights(res: RouteView): string {
  const rows = Object.entries(res.weights).map(([id, w]) => [`${res.service}:${id}`, `weight ${w}`] as const);
  return rows.length === 0 ? `${res.service}: no instances\n` : formatKeyValues(rows);
}

/** 12.3ms, 2.0ms: always one decimal, so values side by side line up; `-` when unknown. */
function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  return `${(Math.round(ms * 10) / 10).toFixed(1)}ms`;
}

/** `2 (0.17%)`: a count and its share of total, when there is a total. */
function countOf(n: number, total: number): string {
  if (!(total > 0) || n === 0) return String(n);
  const pct = (n / total) * 100;
  return `${n} (${pct === 0 || pct >= 10 ? Math.round(pct) : pct.toPrecision(2)}%)`;
}

/** `ten shadow status`: the mirror and its comparison so far, as key/value lines. */
export function formatShadow(s: ShadowView): string {
  const diff = s.latency_diff_ms;
  const diffText = diff === null || diff === undefined || !Number.isFinite(diff) ? '-'
    : `${diff > 0 ? '+' : ''}${formatMs(diff)}${diff > 0 ? ' (shadow slower)' : diff < 0 ? ' (shadow faster)' : ''}`;
  return formatKeyValues([
    ['shadow', `${s.service} → ${s.service}:${s.to}, ${s.percent}% of requests${s.active ? '' : ' (stopped)'}`],
    ['started', formatLocalTime(s.started_at)],
    ['mirrored', String(s.mirrored)],
    ['skipped', String(s.skipped)],
    ['compared', String(s.compared)],
    ['status mismatches', countOf(s.status_mismatches, s.compared)],
    ['shadow errors', countOf(s.shadow_errors, s.mirrored)],
    ['mean latency', `stable ${formatMs(s.stable_mean_ms)}, shadow ${formatMs(s.shadow_mean_ms)}`],
    ['difference', diffText],
  ]);
}

const HISTORY_COLUMNS: readonly Column[] = [
  { header: 'TIME', min: 19 },
  { header: 'SERVICE', min: 8 },
  { header: 'KIND', min: 12 },
  { header: 'OUTCOME', min: 11 },
  { header: 'DETAIL', min: 0 },
];

/** `ten history`: oldest first, newest last (whatever order the server sent). */
export function formatHistory(entries: readonly HistoryEntryView[]): string {
  const time = (e: HistoryEntryView) => {
    const t = Date.parse(e.at);
    return Number.isNaN(t) ? Infinity : t;
  };
  const sorted = entries.map((e, i) => ({ e, i })).sort((a, b) => time(a.e) - time(b.e) || a.i - b.i);
  return formatTable(
    HISTORY_COLUMNS,
    sorted.map(({ e }) => [formatLocalTime(e.at), e.service, e.kind, e.outcome, oneLine(e.detail ?? '')]),
  );
}

/** Text from the server on one line: newlines and runs of spaces become one space. */
function oneLine(s: string): string {
  return String(s).replace(/\s+/g, ' ').trim();
}
