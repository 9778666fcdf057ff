// Can the user an app runs as use its service's workdir? tenement-init asks it right before it
// runs the app (native/tenement-init.c: after setgid/setuid, access(cwd, R_OK | X_OK), else
// "working directory DIR, as uid N (the app's user must be able to read and enter it)"), so an
// app in a folder closed to that user (as root the default user is `nobody`, and a home folder is
// often 0700) fails every start. ten init, ten config and ten doctor ask the same question ahead
// of time, of tenement-init itself, so that the answer is the app's own.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { appUser, INIT_PATH } from './process.ts';
import type { ServiceConfig, Settings } from './types.ts';

/** The uid (or gid) of a user (or group), a name or a number, from the system's databases
 *  (getent, i.e. NSS, as tenement-init's getpwnam(3) sees them; /etc/passwd or /etc/group without
 *  getent); null if there is none. */
export function lookup(db: 'passwd' | 'group', name: string): number | null {
  return entry(db, name)?.id ?? null;
}

/** The name of a uid (or gid), or null when the database has none. */
export function nameOf(db: 'passwd' | 'group', id: number): string | null {
  return entry(db, String(id))?.name ?? null;
}

function entry(db: 'passwd' | 'group', key: string): { name: string; id: number } | null {
  const r = spawnSync('getent', [db, key], { encoding: 'utf8', timeout: 5000 });
  let line: string | undefined;
  if (r.error) {
    let text = '';
    try { text = readFileSync(`/etc/${db}`, 'utf8'); } catch { /* none */ }
    line = text.split('\n').find((l) => l.startsWith(`${key}:`) || (/^\d+$/.test(key) && l.split(':')[2] === key));
  } else if (r.status === 0) line = r.stdout.split('\n')[0];
  const [name, , id] = line?.split(':') ?? [];
  return name === undefined || id === undefined || id === '' ? null : { name, id: Number(id) };
}

/**
 * Can `user` (in `group`; null: this process's own) read and enter `dir`, as tenement-init checks
 * it? With a user, tenement-init itself switches to it (the same initgroups(3) the app gets) and
 * runs `cd DIR && test -r .` (from /: tenement-init checks its own working directory first);
 * without one, access(2) of this process. null when it cannot be
 * asked: tenement-init is not built (ten doctor reports that on its own).
 */
export function canUseDir(dir: string, user: string | null, group: string | null = null): boolean | null {
  if (user === null) {
    try { accessSync(dir, constants.R_OK | constants.X_OK); return true; } catch { return false; }
  }
  if (!existsSync(INIT_PATH)) return null;
  const r = spawnSync(INIT_PATH, ['--user', user, ...(group !== null ? ['--group', group] : []), '--', '/bin/sh', '-c', 'cd "$1" && test -r .', 'sh', dir], { stdio: 'ignore', timeout: 10_000, cwd: '/' });
  return r.status === 0;
}

/** Why `user` cannot use `dir`: the first folder on the way (from /) it cannot enter, or `dir`
 *  itself when it can enter but not read it; what to run about it. */
export interface Blocked {
  /** The user the apps run as (a name or uid). */
  user: string;
  dir: string;
  /** The folder that stops it. */
  at: string;
  /** `chmod o+x /root` (a folder above) or `chmod o+rx DIR` (the workdir itself). */
  chmod: string;
}

/**
 * Whether the apps of `svc` (under `settings`, with ten serve root or not, as this process is)
 * can use its workdir: null when they can (or it cannot be known: the user does not exist or
 * tenement-init is not built, which ten doctor reports), else where they are stopped.
 */
export function workdirBlocked(svc: ServiceConfig, settings: Settings, root = process.getuid?.() === 0): Blocked | null {
  let who: { user?: string; group?: string };
  try { who = appUser(settings, svc, root); } catch { return null; } // a user set without root: another error
  const user = who.user ?? null;
  const group = who.group ?? null;
  if (user !== null && !/^\d+$/.test(user) && lookup('passwd', user) === null) return null;
  if (group !== null && !/^\d+$/.test(group) && lookup('group', group) === null) return null;
  return dirBlocked(svc.workdir, user, group);
}

/** Where `user` (in `group`; null: this process's own) is stopped on its way to read and enter
 *  `dir`, or null when it is not (or it cannot be known: see canUseDir). */
export function dirBlocked(dir: string, user: string | null, group: string | null = null): Blocked | null {
  if (canUseDir(dir, user, group) !== false) return null;
  const abs = path.resolve(dir);
  const who = user ?? `uid ${process.getuid?.()}`;
  const parts = abs.split(path.sep).filter((p) => p !== '');
  for (let k = 1; k < parts.length; k++) {
    const up = path.sep + parts.slice(0, k).join(path.sep);
    if (!enters(up, user, group)) return { user: who, dir: abs, at: up, chmod: `chmod o+x ${up}` };
  }
  return { user: who, dir: abs, at: abs, chmod: `chmod o+rx ${abs}` };
}

/** Can the user enter (search) `dir` — it may not be able to read it? */
function enters(dir: string, user: string | null, group: string | null): boolean {
  if (user === null) {
    try { accessSync(dir, constants.X_OK); return true; } catch { return false; }
  }
  const r = spawnSync(INIT_PATH, ['--user', user, ...(group !== null ? ['--group', group] : []), '--', '/bin/sh', '-c', 'cd "$1"', 'sh', dir], { stdio: 'ignore', timeout: 10_000, cwd: '/' });
  return r.status === 0;
}

/** What ten init, ten config and ten doctor say about `b`: who, where, and the ways out
 *  (`user` only when ten serve runs as root: otherwise apps run as ten serve's own user). */
export function blockedMessage(b: Blocked, root: boolean): string {
  const where = b.at === b.dir ? '' : ` (${b.at} is closed to ${b.user})`;
  const ways = [`move the app to a folder ${b.user} can read (such as /srv/${path.basename(b.dir)})`, `run ${b.chmod}`, ...(root ? [`set user = "..." to a user who can`] : [])];
  return `its apps run as ${b.user}, who cannot read and enter its workdir ${b.dir}${where}: ${ways.slice(0, -1).join(', ')}, or ${ways.at(-1)}`;
}
