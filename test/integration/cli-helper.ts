// The `ten` CLI run in this process (runCli from cli/index.ts) against a real `ten serve` started by
// the harness: stdout and stderr captured, --server and --token added. Faster than ten.cli(), which
// starts a child process per command; use that where the process itself matters (exit codes of the
// binary, environment variables).
import { PassThrough } from 'node:stream';
import { Cli } from 'clipanion';
import { runCli } from '../../cli/index.ts';
import type { Ten } from './harness.ts';

export interface CliRun { code: number; out: string; err: string }

export interface CliOptions {
  /** --server (default: the ten serve given to inProcessCli). */
  server?: string;
  /** --token (default: that server's token); null: pass no --token at all. */
  token?: string | null;
}

export interface TenCli {
  /** `ten ARGS --server SERVER --token TOKEN`, in process. */
  (...args: string[]): Promise<CliRun>;
  /** The same with another --server or --token, or none. */
  with(opts: CliOptions, ...args: string[]): Promise<CliRun>;
  /** http://127.0.0.1:PORT of the server. */
  server: string;
}

/** `ten ARGV` in this process, with what it printed on stdout and stderr. */
export async function captureCli(argv: string[]): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const code = await runCli(argv, { ...Cli.defaultContext, stdout, stderr, colorDepth: 1 });
  return { code, out, err };
}

export function inProcessCli(ten: Pick<Ten, 'port' | 'token'>): TenCli {
  const server = `http://127.0.0.1:${ten.port}`;
  const run = (opts: CliOptions, args: string[]): Promise<CliRun> => {
    const token = opts.token === undefined ? ten.token : opts.token;
    return captureCli([...args, '--server', opts.server ?? server, ...(token === null ? [] : [`--token=${token}`])]);
  };
  return Object.assign((...args: string[]) => run({}, args), { with: (opts: CliOptions, ...args: string[]) => run(opts, args), server });
}
