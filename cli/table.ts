// Pure formatters for the tables the CLI prints. Columns are left-aligned and padded with spaces;
// the minimum widths reproduce the `ten ps` table of the original docs exactly.
import type { HealthView, InstanceView } from './types.ts';

export interface Column {
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

export const PS_COLUMNS: readonly Column[] = [
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

export const HEALTH_COLUMNS: readonly Column[] = [
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
