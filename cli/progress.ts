// Follows a workflow Operation (deploy, rolling deploy, rollout) until it ends, by polling
// GET /api/workflows/operations/:id every 250 ms, and shows its steps as they appear:
// - on a terminal (and not NO_COLOR, not --json): a spinner with the latest step on one line,
//   rewritten in place; each step that is over is printed as its own line `[12:00:01] message`;
// - otherwise: each new step as a plain line `[12:00:01] message`;
// - with --json: nothing until the end, then the final Operation.
import { sleep } from '../core/wait.ts';
import type { Client } from './client.ts';
import { formatOperationSummary, formatStep, operationLabel } from './table.ts';
import type { OperationView } from '../plugins/deploy-workflows/view.ts';

interface Writable {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

type ProgressMode = 'tty' | 'plain' | 'silent';

export const POLL_MS = 250;
/** How long the server may be unreachable in a row (a restart of ten serve) before giving up. */
const UNREACHABLE_GRACE_MS = 10_000;
const SPIN_MS = 100;
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** 'silent' with --json, 'tty' on a terminal without NO_COLOR, else 'plain'. */
export function progressMode(stdout: Writable, json: boolean, env: NodeJS.ProcessEnv = process.env): ProgressMode {
  if (json) return 'silent';
  return stdout.isTTY && !env.NO_COLOR ? 'tty' : 'plain';
}

export interface FollowOptions {
  mode: ProgressMode;
  out: Writable;
  pollMs?: number;
  graceMs?: number;
}

/** Polls `get(id)` until the operation is no longer running; returns the final Operation. */
export async function followOperation(first: OperationView, get: (id: number) => Promise<OperationView>, opts: FollowOptions): Promise<OperationView> {
  const view = new ProgressView(opts.mode, opts.out);
  let op = first;
  let lastOk = Date.now();
  try {
    view.update(op);
    while (op.status === 'running') {
      await sleep(opts.pollMs ?? POLL_MS);
      try {
        op = await get(op.id);
        lastOk = Date.now();
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (code !== 'TEN_ERR_CLI_SERVER_UNREACHABLE' || Date.now() - lastOk > (opts.graceMs ?? UNREACHABLE_GRACE_MS)) throw e;
        continue;
      }
      view.update(op);
    }
    view.finish(op);
  } finally {
    view.stop();
  }
  return op;
}

/** What the user sees while following: see the comment at the top of the file. */
class ProgressView {
  /** Steps already printed as their own line. */
  private printed = 0;
  private current = '';
  private frame = 0;
  private timer?: NodeJS.Timeout;
  private readonly since = Date.now();
  private drawn = false;

  constructor(private readonly mode: ProgressMode, private readonly out: Writable) {}

  update(op: OperationView): void {
    if (this.mode === 'silent') return;
    if (this.mode === 'plain') {
      this.flush(op, op.steps.length);
      return;
    }
    // On a terminal the latest step stays on the spinner line until a newer one replaces it.
    this.flush(op, op.steps.length - 1);
    const latest = op.steps.at(-1);
    this.current = latest ? latest.message.replace(/\s+/g, ' ').trim() : `${operationLabel(op)}: starting`;
    this.draw();
    this.timer ??= setInterval(() => {
      this.frame = (this.frame + 1) % FRAMES.length;
      this.draw();
    }, SPIN_MS);
  }

  /** The operation is over: every step not printed yet gets its line. */
  finish(op: OperationView): void {
    if (this.mode === 'silent') return;
    this.stop();
    this.flush(op, op.steps.length);
  }

  /** Stops the spinner and clears its line (idempotent). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  /** Prints steps [printed, upTo) as lines. */
  private flush(op: OperationView, upTo: number): void {
    if (upTo <= this.printed) return;
    this.clear();
    for (const step of op.steps.slice(this.printed, upTo)) this.out.write(`${formatStep(step)}\n`);
    this.printed = upTo;
  }

  private draw(): void {
    const elapsed = Math.floor((Date.now() - this.since) / 1000);
    let line = `${FRAMES[this.frame]} ${this.current} (${elapsed}s)`;
    // Never wrap: a wrapped line cannot be rewritten with \r.
    const width = (this.out.columns || 80) - 1;
    if ([...line].length > width) line = `${[...line].slice(0, Math.max(0, width - 1)).join('')}…`;
    this.out.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  private clear(): void {
    if (!this.drawn) return;
    this.out.write('\r\x1b[2K');
    this.drawn = false;
  }
}

/** stderr text for an operation that did not succeed: its error, as every `ten` error is printed. */
export function formatOperationFailure(op: OperationView): string {
  if (op.error) {
    return `error ${op.error.code}: ${op.error.message}\n${op.error.hint ? `  hint: ${op.error.hint}\n` : ''}`;
  }
  const last = op.steps.at(-1)?.message;
  return `error: ${operationLabel(op)} ${op.status}${last ? `: ${last}` : ''}\n  hint: see \`ten history ${op.service}\`\n`;
}

export interface RunIO {
  stdout: Writable;
  stderr: Writable;
}

/**
 * Follows the operation that POST returned and reports how it ended. Exit code 0 if it succeeded,
 * else 1: a summary line on stdout, or the operation's error on stderr; with --json only the
 * final Operation, on stdout.
 */
export async function followAndReport(io: RunIO, client: Client, first: OperationView, json: boolean, opts: { pollMs?: number } = {}): Promise<number> {
  const op = await followOperation(first, (id) => client.request<OperationView>('GET', operationPath(id)), {
    mode: progressMode(io.stdout, json),
    out: io.stdout,
    pollMs: opts.pollMs,
  });
  const ok = op.status === 'succeeded';
  if (json) io.stdout.write(`${JSON.stringify(op, null, 2)}\n`);
  else if (ok) io.stdout.write(`${formatOperationSummary(op)}\n`);
  else io.stderr.write(formatOperationFailure(op));
  return ok ? 0 : 1;
}

function operationPath(id: number): string {
  return `/api/workflows/operations/${id}`;
}
