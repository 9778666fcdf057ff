import http from 'node:http';
import { Command, Option } from 'clipanion';
import { TenementError } from '../../core/errors.ts';
import { API_HEADER } from '../../core/view.ts';
import type { InstanceStatsView, StatsView } from '../../plugins/prometheus-exporter/view.ts';
import { ApiError, resolveToken } from '../client.ts';
import { validateName } from '../instance-ref.ts';
import { formatTable } from '../table.ts';
import { ApiCommand } from './base.ts';

/** Most bytes of one event (or one error answer) the stream reader holds; beyond, it gives up. */
const MAX_EVENT_BYTES = 4 * 1024 * 1024;
/** No byte from the stream for this long (it pings every 10 s, sends every 2 s): the server is gone. */
const SILENCE_MS = 15_000;
/** ANSI: cursor home, then clear the screen (ECMA-48 CUP and ED). */
const CLEAR = '\x1b[H\x1b[2J';

export class TopCommand extends ApiCommand {
  static paths = [['top']];
  static usage = Command.Usage({
    category: 'Instances',
    description: 'Live request rate, errors, p99 latency, CPU and memory per instance',
    details: `
      One row per instance: SERVICE, INSTANCE, STATE, WEIGHT, REQ/S (requests answered per second), ERR% (share answered with a 5xx), P99 (99th percentile latency, arrival to last byte), CPU (cores used by the instance's whole process tree, 100% = one core) and MEM (its memory). The request figures cover the last 10 seconds; \`-\` means no requests (P99, ERR%) or no process (CPU, MEM).

      On a terminal the table is redrawn in place every 2 s (from \`GET /api/stats/stream\`) until Ctrl-C; through a pipe a new table is printed every 2 s. \`--once\` prints one table and exits; \`--json\` prints \`GET /api/stats\` (with each instance's 5-minute history) and exits.

      Needs the metrics slot (the \`prometheus-exporter\` plugin, on by default).
    `,
    examples: [
      ['Watch every instance', '$0 top'],
      ['Only the instances of api', '$0 top api'],
      ['One table, for scripts', '$0 top --once'],
      ['The figures and their history as JSON', '$0 top --json'],
    ],
  });

  service = Option.String({ name: 'service', required: false });
  once = Option.Boolean('--once', false, { description: 'Print one table and exit' });
  json = Option.Boolean('--json', false, { description: 'Print GET /api/stats as JSON and exit' });

  async perform(): Promise<number> {
    if (this.service !== undefined) validateName('service', this.service);
    if (this.json || this.once) {
      const stats = await this.stats();
      if (this.json) this.outJson(this.only(stats));
      else this.context.stdout.write(formatTop(this.only(stats).instances));
      return 0;
    }
    return this.live();
  }

  /** GET /api/stats; a 404 (no such route) means the metrics slot is off. */
  private async stats(): Promise<StatsView> {
    try {
      return await this.client.request<StatsView>('GET', '/api/stats');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'TEN_ERR_API_NOT_FOUND') throw new TenementError('TEN_ERR_CLI_METRICS_OFF', [this.client.server]);
      throw err;
    }
  }

  private only(s: StatsView): StatsView {
    return this.service === undefined ? s : { ...s, instances: s.instances.filter((i) => i.service === this.service) };
  }

  /** Follow GET /api/stats/stream until Ctrl-C (exit 0) or the stream fails (an error, exit 1). */
  private async live(): Promise<number> {
    const { stdout } = this.context;
    const tty = (stdout as NodeJS.WriteStream).isTTY === true;
    const ep = await this.client.endpoint();
    const server = ep.label;
    const token = await resolveToken({ server: this.server, token: this.token, config: this.config });
    if (!token) {
      await this.stats(); // says whether the server is up, and answers TEN_ERR_CLI_NO_TOKEN as every command does
      throw new TenementError('TEN_ERR_CLI_NO_TOKEN');
    }
    // node:https only for an https server (as cli/client.ts does)
    const get = ep.origin.startsWith('https:') ? (await import('node:https')).request : http.request;
    const draw = (s: StatsView) => {
      const head = `ten top — ${server} — ${clock(s.at)} — last ${s.window_seconds} s${tty ? ' — Ctrl-C to quit' : ''}\n\n`;
      const table = formatTop(this.only(s).instances);
      stdout.write(tty ? `${CLEAR}${head}${table}` : `${head}${table}\n`);
    };
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      const stop = (result: number | Error) => {
        if (settled) return;
        settled = true;
        process.off('SIGINT', quit);
        process.off('SIGTERM', quit);
        stream.close();
        if (result instanceof Error) reject(result); else resolve(result);
      };
      const quit = () => stop(0);
      process.on('SIGINT', quit);
      process.on('SIGTERM', quit);
      const stream = followStats(get, `${ep.origin}/api/stats/stream`, ep.socketPath, token, draw, (err) => stop(err), server);
    });
  }
}

/**
 * Read the event stream at `url` (Server-Sent Events): `onStats` for each `stats` event, `onEnd`
 * with the error that ended it (the server closed it, went silent, or answered an error: a 404 is
 * TEN_ERR_CLI_METRICS_OFF). Bounded: an event larger than MAX_EVENT_BYTES ends it.
 */
function followStats(get: typeof http.request, url: string, socketPath: string | undefined, token: string, onStats: (s: StatsView) => void, onEnd: (err: Error) => void, server: string): { close(): void } {
  let closed = false;
  const unreachable = (why: string) => new TenementError('TEN_ERR_CLI_SERVER_UNREACHABLE', [server, why]);
  const end = (err: Error) => {
    if (closed) return;
    closed = true;
    clearTimeout(silence);
    req.destroy();
    onEnd(err);
  };
  let silence = setTimeout(() => end(unreachable(`no event in ${SILENCE_MS / 1000} s`)), SILENCE_MS);
  const heard = () => {
    clearTimeout(silence);
    silence = setTimeout(() => end(unreachable(`no event in ${SILENCE_MS / 1000} s`)), SILENCE_MS);
  };
  const req = get(url, { socketPath, headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    if (res.statusCode !== 200) {
      res.on('data', (c: string) => { if (buf.length < MAX_EVENT_BYTES) buf += c; });
      res.on('end', () => end(answerError(res, buf, server)));
      return;
    }
    res.on('data', (c: string) => {
      heard();
      buf += c;
      for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) {
        const block = buf.slice(0, i);
        if (!/^event: stats$/m.test(block)) continue; // comments (pings), retry
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        try {
          onStats(JSON.parse(data) as StatsView);
        } catch (err) {
          return end(err as Error);
        }
      }
      if (buf.length > MAX_EVENT_BYTES) end(unreachable(`an event larger than ${MAX_EVENT_BYTES} bytes`));
    });
    res.on('end', () => end(unreachable('the stream ended (ten serve stopped?)')));
    res.on('error', (err) => end(unreachable(err.message)));
  });
  req.on('error', (err: NodeJS.ErrnoException) => end(unreachable(err.code ?? err.message)));
  req.end();
  return { close: () => { closed = true; clearTimeout(silence); req.destroy(); } };
}

/** The error a non-200 answer of the stream stands for. */
function answerError(res: http.IncomingMessage, body: string, server: string): Error {
  let e: { code?: unknown; message?: unknown; hint?: unknown } | undefined;
  try { e = JSON.parse(body); } catch { /* not JSON */ }
  const fromTen = res.headers[API_HEADER] !== undefined;
  if (fromTen && res.statusCode === 404) return new TenementError('TEN_ERR_CLI_METRICS_OFF', [server]);
  if (fromTen && typeof e?.code === 'string' && typeof e.message === 'string') return new ApiError(e.code, e.message, typeof e.hint === 'string' ? e.hint : '', res.statusCode ?? 0);
  return new TenementError('TEN_ERR_CLI_SERVER_UNREACHABLE', [server, `HTTP ${res.statusCode} from GET /api/stats/stream is not a ten serve API answer`]);
}

// ---------------------------------------------------------------- the table

const COLUMNS = [
  { header: 'SERVICE', min: 8 }, { header: 'INSTANCE', min: 8 }, { header: 'STATE', min: 10 }, { header: 'WEIGHT', min: 6 },
  { header: 'REQ/S', min: 7 }, { header: 'ERR%', min: 6 }, { header: 'P99', min: 8 }, { header: 'CPU', min: 6 }, { header: 'MEM', min: 0 },
];

/** `ten top`'s table: one row per instance, in the server's order. */
export function formatTop(instances: readonly InstanceStatsView[]): string {
  return formatTable(COLUMNS, instances.map((i) => {
    const requests = i.requests_per_second > 0;
    const process = i.memory_bytes > 0;
    return [
      i.service, i.instance, i.state, String(i.weight), formatRate(i.requests_per_second),
      requests ? `${(i.error_ratio * 100).toFixed(1)}%` : '-',
      i.p99_seconds === null ? '-' : formatSeconds(i.p99_seconds),
      process ? `${(i.cpu_ratio * 100).toFixed(1)}%` : '-',
      process ? formatBytes(i.memory_bytes) : '-',
    ];
  }));
}

/** Local HH:MM:SS. */
function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** 0, 0.3, 12.5, 1234: one decimal below 100. */
function formatRate(r: number): string {
  return r === 0 ? '0' : r < 100 ? r.toFixed(1) : r.toFixed(0);
}

/** 0.85ms, 58.3ms, 583ms, 1.23s. */
function formatSeconds(s: number): string {
  const ms = s * 1000;
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 100) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${ms.toFixed(0)}ms`;
  return `${s.toFixed(2)}s`;
}

/** 512B, 55.4MiB, 1.20GiB (binary units). */
function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v}B` : `${v < 10 ? v.toFixed(2) : v.toFixed(1)}${units[u]}`;
}
