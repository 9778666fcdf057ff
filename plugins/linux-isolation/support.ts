// Which isolation levels this host can run, probed once each by running the real thing (a level
// is available when its command starts `true` with the same options an instance gets).
import { spawnSync } from 'node:child_process';
import { INIT_PATH } from '../../core/index.ts';
import { NAMESPACE_WRAP } from './namespace.ts';
import { sandboxWrap } from './sandbox.ts';

export const LEVELS = ['process', 'namespace', 'sandbox'] as const;
export type Level = (typeof LEVELS)[number];

const known = new Map<Level, string | null>();

/** null when `level` works here, else why not and what to install or change (one sentence). */
export function levelSupport(level: Level): string | null {
  if (!known.has(level)) known.set(level, probe(level));
  return known.get(level)!;
}

function probe(level: Level): string | null {
  if (level === 'process') return null;
  const root = process.getuid?.() === 0;
  if (level === 'namespace') {
    if (!root) return `creating PID and mount namespaces needs root (CAP_SYS_ADMIN); ten serve runs as uid ${process.getuid?.()}`;
    return run(NAMESPACE_WRAP, 'util-linux unshare', 'apt install util-linux');
  }
  const dir = '/tmp';
  return run(sandboxWrap({ cwd: dir, dataDir: '/tmp', socketDir: '/tmp', hide: '/tenement-probe' }), 'bubblewrap (bwrap)', 'apt install bubblewrap');
}

/** Run `wrap` + tenement-init + `true`; null when it exits 0, else the reason with the fix. */
function run(wrap: string[], what: string, install: string): string | null {
  const r = spawnSync(wrap[0], [...wrap.slice(1), INIT_PATH, '--', 'true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  const err = r.error as NodeJS.ErrnoException | undefined;
  if (err?.code === 'ENOENT') return `${what} is not installed (${wrap[0]} not found): ${install}`;
  if (r.status === 0) return null;
  const said = r.stderr?.toString().trim().split('\n').pop() ?? '';
  return `${what} failed here (${err ? err.message : `exit ${r.status ?? r.signal}`}${said ? `: ${said}` : ''})`;
}
