// Level `sandbox`: the app in bubblewrap (bwrap(1)): the system directories read-only, the
// service's workdir read-only, its data and socket directories read-write, a private /tmp, a
// minimal /dev, a fresh /proc of new PID, IPC and UTS namespaces, no capabilities
// (no_new_privs, an empty bounding set), and an environment of only what the service sets
// (plus PORT, SOCKET_PATH, DATA_DIR, a default PATH, and HOME = DATA_DIR). Files the command names
// by absolute path (`node /srv/app/server.js`) are shown read-only too. Nothing else of the host's
// file system exists inside: not {data_dir}'s other folders, not the api_token or the stores.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { INIT_PATH, type SpawnSpec } from '../../core/index.ts';

/** System directories bound read-only when the host has them (merged-/usr hosts have symlinks). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'];
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The bwrap command line (ending with `--`) for an app in `cwd` with these folders; `readOnly`:
 * more paths to show read-only (the absolute paths of the command that exist); `hide`: ten
 * serve's data_dir, which is covered by an empty tmpfs wherever it lies (inside the workdir, as in
 * the example config, or `/`) before the instance's own two folders are bound back into it. Later
 * mounts go over earlier ones: the order below is the point.
 */
export function sandboxWrap(p: { cwd: string; dataDir: string; socketDir: string; hide: string; hostname?: string; readOnly?: string[] }): string[] {
  const own = [p.dataDir, p.socketDir];
  const under = (d: string) => d.startsWith(`${p.hide}/`);
  return [
    'bwrap',
    ...SYSTEM_DIRS.flatMap((d) => ['--ro-bind-try', d, d]),
    // a tmpfs is root's 0755 by default: the app's user (nobody) could not write its own /tmp
    '--perms', '1777', '--tmpfs', '/tmp',
    '--dev', '/dev',
    '--proc', '/proc',
    // bwrap makes missing parents of a mount point 0700 (root's): the app's user must pass them
    ...ancestors([INIT_PATH, ...(p.readOnly ?? []), p.cwd, p.hide]).flatMap((d) => ['--perms', '0755', '--dir', d]),
    '--ro-bind', INIT_PATH, INIT_PATH,
    ...(p.readOnly ?? []).flatMap((f) => ['--ro-bind', f, f]),
    '--ro-bind', p.cwd, p.cwd,
    // {data_dir} (the API token, the stores, the other instances) is an empty folder inside
    '--perms', '0711', '--tmpfs', p.hide,
    ...ancestors(own).filter(under).flatMap((d) => ['--perms', '0711', '--dir', d]),
    '--bind', p.dataDir, p.dataDir,
    '--bind', p.socketDir, p.socketDir,
    // tenement-init is PID 1 (no bwrap reaper in between): it forwards the stop signals
    '--unshare-pid', '--as-pid-1', '--unshare-ipc', '--unshare-uts',
    ...(p.hostname ? ['--hostname', p.hostname] : []),
    '--chdir', p.cwd,
    '--',
  ];
}

/** The folders above `paths` (not /, not inside a system directory), parents first. */
function ancestors(paths: string[]): string[] {
  const out = new Set<string>();
  for (const path of paths) {
    for (let d = dirname(path); d !== '/' && !SYSTEM_DIRS.some((s) => d === s || d.startsWith(`${s}/`)); d = dirname(d)) out.add(d);
  }
  return [...out].sort((a, b) => a.split('/').length - b.split('/').length);
}

/** `dataRoot`: ten serve's data_dir, hidden inside (see sandboxWrap). */
export function sandboxSpec(spec: SpawnSpec, dataRoot: string): SpawnSpec {
  const own = [...Object.keys(spec.service.env), 'PORT', 'SOCKET_PATH', 'DATA_DIR'];
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOME: spec.dataDir };
  for (const k of own) if (spec.env[k] !== undefined) env[k] = spec.env[k];
  return {
    ...spec,
    env,
    wrap: [...spec.wrap, ...sandboxWrap({
      cwd: spec.cwd, dataDir: spec.dataDir, socketDir: spec.socketDir, hide: dataRoot, hostname: `${spec.instance.id}.${spec.instance.service}`,
      readOnly: spec.argv.filter((a) => isAbsolute(a) && !SYSTEM_DIRS.some((d) => a.startsWith(`${d}/`)) && existsSync(a)),
    })],
    // bwrap keeps root's capabilities for the init (it sets the user); the app gets none
    initOptions: [...spec.initOptions, '--no-new-privs', '--drop-caps'],
  };
}
