// Every path `ten serve` or its apps reach, for the unit's sandbox (systemd.exec(5), "Sandboxing"):
// ProtectHome=yes hides /home, /root and /run/user, PrivateTmp=yes replaces /tmp and /var/tmp, and
// ProtectSystem=strict makes all but ReadWritePaths= read-only. A path the service needs in one of
// those places changes the setting (plan.ts); a path it writes goes to ReadWritePaths=.
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { moduleResolve } from 'import-meta-resolve';
import type { ApiAddress } from '../../core/api-listen.ts';
import type { PluginEntry, TenementConfig } from '../../core/types.ts';

/** One path the service reaches: what it is (for the unit's comments), absolute, and whether it writes there. */
export interface NeededPath {
  what: string;
  path: string;
  write: boolean;
}

/** Where ProtectHome=yes hides everything (systemd.exec(5), ProtectHome=). */
export const HOMES = ['/home', '/root', '/run/user'];
/** What PrivateTmp=yes replaces (systemd.exec(5), PrivateTmp=). */
export const TMPS = ['/tmp', '/var/tmp'];

/** `p` with every symlink resolved; for a path that does not exist yet (a data dir install makes),
 *  its nearest existing folder resolved and the rest appended. */
export function realPath(p: string): string {
  if (existsSync(p)) {
    try { return realpathSync(p); } catch { return p; } // (EACCES on a parent: keep it as given)
  }
  const parent = dirname(p);
  return parent === p ? p : join(realPath(parent), basename(p));
}

/** The file a plugin's `use` names, when it is one: a path relative to the config's folder, or an
 *  npm package installed there (resolved as core/import-plugin.ts imports it); null for a built-in
 *  name or a package that cannot be found (ten serve would refuse the config then). */
function pluginFile(use: string, dir: string): string | null {
  if (use.startsWith('./') || use.startsWith('../') || isAbsolute(use)) return resolve(dir, use);
  try {
    return fileURLToPath(moduleResolve(use, pathToFileURL(`${resolve(dir)}/`), new Set(['node', 'import'])));
  } catch {
    return null;
  }
}

/**
 * Everything the unit must leave reachable, in this order: node and this checkout of tenement, the
 * config, the data dir (written), each service's workdir, the TLS certificate and key, the folder of
 * a Unix-socket api_listen (written: ten serve creates the socket there), and each plugin file. A
 * path that is, or lies under, a symlink is followed by its real path as well ("… (real path)"): a
 * certbot certificate in live/ is a symlink into archive/, and the sandbox must let both through.
 */
export function neededPaths(c: TenementConfig & { path: string }, root: string, api: ApiAddress | string | undefined): NeededPath[] {
  const s = c.settings;
  const list: NeededPath[] = [
    { what: 'node', path: process.execPath, write: false },
    { what: 'tenement', path: root, write: false },
    { what: 'the config', path: c.path, write: false },
    { what: 'data_dir', path: s.data_dir, write: true },
    ...Object.values(c.services).map((v) => ({ what: `service ${v.name}'s workdir`, path: v.workdir, write: false })),
  ];
  if (s.tls) list.push({ what: 'the TLS certificate', path: s.tls.cert, write: false }, { what: 'the TLS key', path: s.tls.key, write: false });
  if (api !== undefined && typeof api !== 'string' && api.path !== undefined && !api.path.startsWith(`${s.data_dir}/`)) {
    list.push({ what: 'the api_listen socket\'s folder', path: dirname(api.path), write: true });
  }
  const plugins = [...Object.values(c.plugins.slots), ...c.plugins.extra].filter((e): e is PluginEntry => e !== false);
  for (const e of plugins) {
    const file = pluginFile(e.use, c.dir ?? dirname(c.path));
    if (file !== null) list.push({ what: `plugin ${e.use} (${e.where})`, path: file, write: false });
  }
  const out: NeededPath[] = [];
  for (const n of list) {
    out.push(n);
    const real = realPath(n.path);
    if (real !== n.path) out.push({ what: `${n.what} (real path)`, path: real, write: n.write });
  }
  return out;
}

/** The entries whose path is one of `dirs` or lies under one. */
export function under(needed: NeededPath[], dirs: string[]): NeededPath[] {
  return needed.filter((n) => dirs.some((d) => n.path === d || n.path.startsWith(`${d}/`)));
}
