// Runs the real `ten` CLI as a child process (for argument and connection errors, which need no
// server), and finds a loopback port nothing listens on.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface Run { code: number; stdout: string; stderr: string }

/** `ten ARGS` with NO_COLOR; TENEMENT_SERVER/TOKEN/CONFIG come only from `opts.env`. */
export function runTen(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...opts.env };
  for (const k of ['TENEMENT_SERVER', 'TENEMENT_TOKEN', 'TENEMENT_CONFIG']) if (!opts.env?.[k]) delete env[k];
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TSX, join(ROOT, 'cli/main.ts'), ...args], { cwd: opts.cwd ?? ROOT, env, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

/** A loopback port that was free a moment ago (nothing listens on it). */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}
