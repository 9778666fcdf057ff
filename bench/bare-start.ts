// The floor for any start through tenement: an app spawned on its own, with the environment and
// the user an instance gets, timed from spawn to its first 200. Used by bench/wake.ts and
// bench/isolation.ts.
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { canConnect, freePort } from '../core/net.ts';
import { PASSTHROUGH_ENV } from '../core/spawn-env.ts';
import { request } from '../test/integration/harness.ts';

/** Spawn `argv`, poll its port every 2 ms, GET / until 200; ms from spawn to that answer. The
 *  app is stopped (SIGTERM) before this resolves. */
export async function bareStart(argv: string[]): Promise<number> {
  const port = await freePort(new Set());
  // the same environment tenement gives an instance (see core/spawn-env.ts)
  const env: Record<string, string> = { PORT: String(port), DATA_DIR: tmpdir() };
  for (const k of PASSTHROUGH_ENV) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  // and as the same user: an instance of a root ten serve runs as nobody (docs/isolation.md), which
  // also decides which python3 PATH finds (root's pyenv shims are not nobody's to run)
  const asApp = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), { env, stdio: 'ignore', ...asApp });
  for (;;) {
    if (await canConnect({ port }, 500)) {
      const r = await request(port, 'bench', '/').catch(() => undefined);
      if (r?.status === 200) break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const t = performance.now() - t0;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return t;
}
