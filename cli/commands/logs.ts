import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import type { LogLine } from '../../core/log-store.ts';
import { validateName } from '../instance-ref.ts';
import { ApiCommand } from './base.ts';

/** How long `ten logs -f` waits for a ten serve that went away (restarted, killed) to come back. */
const RECONNECT_S = 60;

const TAG: Record<LogLine['stream'], string> = { stdout: 'OUT', stderr: 'ERR', event: 'EVT' };

/** `HH:MM:SS [OUT|ERR|EVT] service:id message` (local time), as the original tenement printed
 *  lines. Control characters but tab (C0, DEL, C1) are shown as \xNN, and the bidirectional
 *  formatting characters (U+200E/F, U+202A–E, U+2066–9) as \u{NNNN}, so an app's output can
 *  neither drive the terminal nor reorder what is shown. */
export function formatLine(l: LogLine): string {
  const d = new Date(l.t);
  const hms = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  // eslint-disable-next-line no-control-regex -- the point is to find them
  const msg = l.message.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
  return `${hms} [${TAG[l.stream] ?? l.stream}] ${l.service}${l.instance ? `:${l.instance}` : ''} ${msg}`;
}

export class LogsCommand extends ApiCommand {
  static paths = [['logs']];
  static usage = Command.Usage({
    category: 'Instances',
    description: 'Show, search and follow the logs of instances',
    details: `
      Prints the latest lines of the apps' stdout (\`[OUT]\`) and stderr (\`[ERR]\`) and of the event stream (\`[EVT]\`: spawned, exited, state and weight changes, wakes, deploy steps), oldest first, as \`HH:MM:SS [OUT] service:id message\`. Without a target, every instance's; \`api\` narrows to a service, \`api:v1\` to one instance.

      \`--since\` and \`--until\` take a duration back from now (\`10m\`, \`2h\`, \`7d\`) or a time (\`2026-11-29T21:00:00Z\`). \`--grep\` keeps lines containing the text (any case). \`-f\` prints the latest lines, then new ones as they come, until Ctrl-C.

      Logs are kept in \`{data_dir}/logs.db\` within \`log_max_size\` and \`log_max_age\` (see docs/configuration.md), so they survive a restart of ten serve. \`--json\` prints one JSON object per line: \`{"seq","t","stream","service","instance","pid","message"}\`.
    `,
    examples: [
      ['The latest 100 lines of every instance', '$0 logs'],
      ['One instance, last 10 minutes', '$0 logs api:v1 --since 10m'],
      ['Search a service', '$0 logs api --grep "timeout"'],
      ['Follow stderr of one instance', '$0 logs api:v1 --stderr -f'],
    ],
  });

  target = Option.String({ name: 'service[:id]', required: false });
  since = Option.String('--since', { description: 'Only lines after this: a duration back from now (10m) or a time' });
  until = Option.String('--until', { description: 'Only lines before this: a duration back from now or a time' });
  grep = Option.String('--grep', { description: 'Only lines containing this text (any case)' });
  stderr = Option.Boolean('--stderr', false, { description: 'Only stderr' });
  lines = Option.String('-n,--lines', { description: 'How many of the latest lines (default 100, at most 10000; with -f, 10, at most 1000)' });
  follow = Option.Boolean('-f,--follow', false, { description: 'Keep printing new lines until Ctrl-C' });
  json = Option.Boolean('--json', false, { description: 'One JSON object per line' });

  async perform(): Promise<number> {
    const q = new URLSearchParams();
    if (this.target !== undefined) {
      const [service, id, extra] = this.target.split(':');
      if (extra !== undefined) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid target ${JSON.stringify(this.target)}: expected service or service:id`);
      validateName('service', service);
      q.set('service', service);
      if (id !== undefined) { validateName('instance id', id); q.set('id', id); }
    }
    if (this.since !== undefined) q.set('since', this.since);
    if (this.until !== undefined) q.set('until', this.until);
    if (this.grep !== undefined) q.set('grep', this.grep);
    if (this.stderr) q.set('stream', 'stderr');
    const raw = this.lines ?? (this.follow ? '10' : '100');
    const n = Number(raw);
    const max = this.follow ? 1000 : 10000;
    if (!/^\d+$/.test(raw) || n > max || (!this.follow && n < 1)) {
      throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid -n ${JSON.stringify(raw)}: expected a whole number from ${this.follow ? 0 : 1} to ${max}`);
    }
    const stdout = this.context.stdout;
    /** Write one line; false when stdout's buffer is full (a slow reader: wait for 'drain'). */
    const print = (l: LogLine) => stdout.write(`${this.json ? JSON.stringify(l) : formatLine(l)}\n`);
    if (!this.follow) {
      q.set('limit', String(n));
      const res = await this.client.request<{ lines: LogLine[] }>('GET', `/api/logs?${q}`);
      for (const l of res.lines) print(l);
      return 0;
    }
    q.set('n', String(n));
    let drained: Promise<void> | undefined;
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint);
    // after a reconnection the backlog repeats what was printed: only what is newer is printed
    let last: { t: number; seen: Set<string> } | undefined;
    const fresh = (l: LogLine): boolean => {
      const key = `${l.service}:${l.instance}:${l.stream}:${l.message}`;
      if (last && l.t < last.t) return false;
      if (last && l.t === last.t) return last.seen.has(key) ? false : (last.seen.add(key), true);
      last = { t: l.t, seen: new Set([key]) };
      return true;
    };
    try {
      for (let opened = false; ;) {
        try {
          // a reader slower than the stream (a pipe, a slow terminal): stop reading the socket
          // until stdout drains, so that ten serve sees a slow client and skips for it (it says
          // how many)
          await this.client.events(`/api/logs/stream?${q}`, (event, data) => {
            if (event === 'line') {
              const l = JSON.parse(data) as LogLine;
              if (!fresh(l) || print(l)) return undefined;
              return drained ??= new Promise<void>((r) => stdout.once('drain', () => { drained = undefined; r(); }));
            }
            if (event === 'skipped') this.context.stderr.write(`… ${(JSON.parse(data) as { events: number }).events} lines skipped: this terminal read them slower than they came\n`);
            return undefined;
          }, stop.signal, () => { opened = true; });
        } catch (err) {
          // a server that is not there at the start is an error at once; one that goes away
          // (restarted, killed: its apps run on, docs/security.md) is waited for
          if (stop.signal.aborted) return 0;
          if (!opened || (err as { code?: string }).code !== 'TEN_ERR_CLI_SERVER_UNREACHABLE') throw err;
        }
        // the stream ends by itself when its --until has passed
        if (stop.signal.aborted || this.until !== undefined) return 0;
        this.context.stderr.write(`… ten serve went away: waiting up to ${RECONNECT_S} s for it to come back (Ctrl-C to stop)\n`);
        if (!await this.serverBack(stop.signal)) {
          if (stop.signal.aborted) return 0;
          throw tenErr('TEN_ERR_CLI_SERVER_UNREACHABLE', this.client.server, `the log stream ended and ten serve did not come back within ${RECONNECT_S} s`);
        }
        this.context.stderr.write('… ten serve is back: following again\n');
        q.set('n', '1000'); // what came meanwhile (the stream's most), less what was printed
      }
    } finally {
      process.off('SIGINT', onSigint);
    }
  }

  /** Polls GET /health every 0.5 s until ten serve answers (true), RECONNECT_S pass or `signal`
   *  aborts (false). */
  private async serverBack(signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + RECONNECT_S * 1000;
    while (Date.now() < deadline && !signal.aborted) {
      await new Promise((r) => setTimeout(r, 500));
      try {
        await this.client.request('GET', '/health');
        return true;
      } catch { /* not yet */ }
    }
    return false;
  }
}
