// What `ten install` and `ten uninstall` do, as a list of steps (write a file, run a command),
// computed before anything is touched: `--dry-run` prints the list, otherwise install.ts carries
// it out in order. docs/deployment.md#running-under-systemd explains each choice.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseApiListen } from '../../core/api-listen.ts';
import { tenErr } from '../../core/errors.ts';
import { trustList } from '../../core/forward/trust.ts';
import type { TenementConfig } from '../../core/types.ts';
import { CADDY_MARKER, renderCaddyfile } from './caddyfile.ts';
import { HOMES, neededPaths, TMPS, under } from './paths.ts';
import { renderUnit, UNIT_MARKER, WROTE_PREFIX, type UnitSpec } from './unit.ts';

/** One step: write a file (mode, octal) or run a command (argv, never a shell). `optional`: a
 *  failure is reported and the next step runs anyway. */
export type Step =
  | { kind: 'write'; path: string; mode: number; content: string; why: string }
  | { kind: 'run'; argv: string[]; why: string; optional?: boolean };

/** What `ten install --dry-run --json` prints (keys are only ever added). */
export interface Plan {
  /** The unit's path, e.g. /etc/systemd/system/tenement.service. */
  unit: string;
  steps: Step[];
  /** What the user should know (kept data, trade-offs), printed after the steps. */
  notes: string[];
}

/** The unit's name; one tenement per host. */
export const UNIT_NAME = 'tenement.service';
/** Seconds TimeoutStopSec= leaves beyond drain_timeout + the longest stop_timeout. */
const STOP_MARGIN = 10;
/** Suffix of a Caddyfile that install moved aside (uninstall puts it back). */
export const BEFORE = '.before-tenement';

/** The folder holding bin/ten.js: found upwards from this module, in the sources (cli/install/)
 *  and in the bundle (dist/) alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) if (existsSync(join(dir, 'bin', 'ten.js')) && existsSync(join(dir, 'package.json'))) return dir;
  throw new Error('cannot find bin/ten.js above ' + fileURLToPath(import.meta.url));
}

/** A DNS name (RFC 1035 §2.3.1 labels, lowercased; RFC 1123 allows a leading digit), or null. */
export function domainName(raw: string): string | null {
  const d = raw.toLowerCase();
  if (d.length > 253) return null;
  return d.split('.').every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l)) ? d : null;
}

/** A user's name and uid from the system's user database (getent, i.e. NSS), or null. */
function userEntry(name: string): { name: string; uid: number } | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8', timeout: 5000 });
  const f = r.status === 0 ? r.stdout.split('\n')[0]!.split(':') : [];
  return f.length >= 3 ? { name: f[0]!, uid: Number(f[2]) } : null;
}

export interface InstallOptions {
  config: TenementConfig & { path: string };
  domain: string;
  port?: number;
  user?: string;
  unitDir: string;
  caddy?: { path: string; dns?: string };
  /** Run no systemctl or caddy command (the files and the data dir only). */
  filesOnly: boolean;
}

/** The steps of `ten install`. TEN_ERR_CLI_INVALID_ARGUMENT for an unknown user, a Unix-socket
 *  api_listen with on-demand TLS. Reads the file system, changes nothing. */
export function planInstall(o: InstallOptions): Plan {
  const c = o.config;
  const s = c.settings;
  const root = packageRoot();
  const unitPath = join(o.unitDir, UNIT_NAME);
  const notes: string[] = [];
  let user: string | undefined;
  if (o.user !== undefined && o.user !== 'root') {
    const u = userEntry(o.user);
    if (!u) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --user ${JSON.stringify(o.user)}: no such user on this host (create it first: useradd --system ${o.user})`);
    // systemd.exec(5) User=: nobody is the kernel's overflow id, and the user apps run as by default
    if (u.name === 'nobody' || u.uid === 65534) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --user ${JSON.stringify(o.user)}: nobody owns no files by design (systemd refuses it as unsafe) and is who apps run as by default; create a user for ten serve: useradd --system tenement`);
    if (u.uid !== 0) user = u.name;
  }
  const port = o.port ?? s.port;
  const api = s.api_listen === undefined ? undefined : parseApiListen(s.api_listen, dirname(c.path));

  // everything ten serve and its apps reach (paths.ts): ProtectHome=yes would hide what lies under a
  // home folder, PrivateTmp=yes what lies in the host's /tmp; ReadWritePaths= gets what is written
  const services = Object.values(c.services);
  const needed = neededPaths(c, root, api);
  const writable = [...new Set(needed.filter((n) => n.write).map((n) => n.path))];
  const inHome = under(needed, HOMES).map((n) => `${n.what} ${n.path}`);
  const inTmp = under(needed, TMPS).map((n) => `${n.what} ${n.path}`);

  const longest = services.reduce<{ name: string | null; t: number }>((m, v) => (v.stop_timeout > m.t ? { name: v.name, t: v.stop_timeout } : m), { name: null, t: 0 });
  const drain = s.drain_timeout;
  const execStart = [process.execPath, join(root, 'bin', 'ten.js'), 'serve', '--config', c.path, '--domain', o.domain, ...(o.port !== undefined ? ['--port', String(o.port)] : [])];

  const steps: Step[] = [];
  const wrote: string[] = [];
  let caddyText: string | undefined;
  if (o.caddy) {
    if (port === 80 || port === 443) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `--caddy: Caddy takes ports 80 and 443, and ten serve would listen on ${port}: give it another --port (e.g. 8080)`);
    const upstream = `${s.listen === '0.0.0.0' ? '127.0.0.1' : s.listen === '::' ? '[::1]' : s.listen.includes(':') ? `[${s.listen}]` : s.listen}:${port}`;
    let ask: string | undefined;
    if (!o.caddy.dns) {
      if (api !== undefined && typeof api !== 'string' && api.path !== undefined) {
        throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `--caddy with on-demand TLS asks tenement's management API over HTTP, but api_listen is the Unix socket ${api.path}: pass --caddy-dns PROVIDER for wildcard certificates instead, or make api_listen a loopback address`);
      }
      ask = `http://${api !== undefined && typeof api !== 'string' ? `${api.host.includes(':') ? `[${api.host}]` : api.host}:${api.port}` : upstream}/api/tls/ask`;
    }
    caddyText = renderCaddyfile({ domain: o.domain, upstream, ask, dns: o.caddy.dns ? { provider: o.caddy.dns, services: services.map((v) => v.name) } : undefined });
    wrote.push(o.caddy.path);
    if (s.listen !== '127.0.0.1' && s.listen !== '::1') notes.push(`ten serve listens on ${s.listen}:${port}: it answers there without Caddy too; set listen = "127.0.0.1" in ${c.path} so that only Caddy reaches it`);
    const caddyAt = upstream.startsWith('[') ? '::1' : '127.0.0.1';
    if (!trustList(s.trusted_proxies)(caddyAt)) {
      notes.push(`add trusted_proxies = ["${caddyAt}"] to [settings] in ${c.path}, so that tenement takes the client's address from Caddy's X-Forwarded-For`);
    }
  }

  // loopback only (127.0.0.0/8, ::1; RFC 1122 §3.2.1.3, RFC 4291 §2.5.3) and nothing in front: the
  // unit would serve a domain that no other host can reach
  if (!o.caddy && (s.listen.startsWith('127.') || s.listen === '::1')) {
    notes.push(`ten serve listens on ${s.listen}:${port} only, and no --caddy: nothing outside this host reaches ${o.domain}. Set listen = "0.0.0.0" (or "::") in [settings] of ${c.path} to serve it directly, put a reverse proxy that listens publicly in front of it, or run ten install --caddy for Caddy with HTTPS`);
  }

  const unit: UnitSpec = {
    domain: o.domain, port: o.port, execStart, workdir: dirname(c.path), writable,
    protectHome: inHome.length > 0 ? 'read-only' : 'yes', protectHomeWhy: inHome, privateTmpWhy: inTmp,
    user, bindLowPort: user !== undefined && port < 1024,
    stopTimeout: { seconds: drain + longest.t + STOP_MARGIN, drain, longestStop: longest.t, longestService: longest.name, margin: STOP_MARGIN },
    wrote, docs: pathToFileURL(join(root, 'docs', 'deployment.md')).href,
  };

  steps.push({ kind: 'run', argv: ['install', '-d', '-m', '0711', s.data_dir], why: 'the data dir must exist: systemd fails the start when a ReadWritePaths= folder does not (systemd.exec(5))' });
  if (user) steps.push({ kind: 'run', argv: ['chown', '-R', `${user}:`, s.data_dir], why: `ten serve runs as ${user}: the data dir (store, logs, token, instances' data) must be its own` });
  for (const d of writable.filter((w) => w !== s.data_dir && !w.startsWith(`${s.data_dir}/`) && !existsSync(w))) {
    steps.push({ kind: 'run', argv: ['install', '-d', '-m', '0755', ...(user ? ['-o', user] : []), d], why: 'the api_listen socket\'s folder must exist too (ReadWritePaths=)' });
  }
  steps.push({ kind: 'write', path: unitPath, mode: 0o644, content: renderUnit(unit), why: 'the systemd unit' });
  if (o.caddy && caddyText !== undefined) {
    const existing = existsSync(o.caddy.path) ? readFileSync(o.caddy.path, 'utf8') : undefined;
    if (existing !== undefined && existing !== caddyText && !existing.startsWith(CADDY_MARKER)) {
      steps.push({ kind: 'run', argv: ['mv', o.caddy.path, `${o.caddy.path}${BEFORE}`], why: 'keep the Caddyfile there now: `ten uninstall` puts it back' });
    }
    steps.push({ kind: 'write', path: o.caddy.path, mode: 0o644, content: caddyText, why: 'the Caddyfile: HTTPS in front of tenement' });
    if (!o.filesOnly) steps.push({ kind: 'run', argv: ['caddy', 'validate', '--adapter', 'caddyfile', '--config', o.caddy.path], why: 'check the Caddyfile with this Caddy (and its modules)' });
  }
  if (!o.filesOnly) {
    steps.push({ kind: 'run', argv: ['systemctl', 'daemon-reload'], why: 'make systemd read the new unit' });
    steps.push({ kind: 'run', argv: ['systemctl', 'enable', '--now', UNIT_NAME], why: 'start ten serve now and at every boot' });
    if (o.caddy) steps.push({ kind: 'run', argv: ['systemctl', 'reload-or-restart', 'caddy.service'], why: 'make Caddy use the new Caddyfile' });
  } else {
    notes.push(`--files-only: nothing was started; later run systemctl daemon-reload && systemctl enable --now ${UNIT_NAME}${o.caddy ? ' (and reload Caddy)' : ''}`);
  }

  if (user) {
    notes.push(`ten serve runs as ${user}, not root: every app runs as ${user} too, and can read what ten serve can (the store, the API token); services' user/group keys and the namespace level need root (docs/isolation.md). ${user} must be able to read ${c.path}, tenement in ${root} and node`);
  } else {
    notes.push('ten serve runs as root: each app runs as its service\'s user, `nobody` by default (docs/isolation.md#users-and-file-modes)');
  }
  notes.push(`apps see the file system read-only except ${writable.join(', ')} (their DATA_DIR is in ${writable.length > 1 ? s.data_dir : 'it'})${inTmp.length > 0 ? '' : ' and a private /tmp'}: ProtectSystem=strict`);
  if (inHome.length > 0) notes.push(`ProtectHome=read-only, not yes: ${inHome.join('; ')} ${inHome.length > 1 ? 'are' : 'is'} under /home, /root or /run/user; a folder such as /srv, /etc or /var/lib lets the unit hide the home folders`);
  if (inTmp.length > 0) notes.push(`PrivateTmp=no: ${inTmp.join('; ')} ${inTmp.length > 1 ? 'are' : 'is'} in /tmp or /var/tmp, and the host may clean /tmp at boot (tmpfiles.d(5)); a folder such as /srv or /var/lib suits a server better`);
  notes.push(`logs: journalctl -u ${UNIT_NAME.replace('.service', '')}; reload the config: systemctl reload ${UNIT_NAME.replace('.service', '')} (or ten reload)`);
  return { unit: unitPath, steps, notes };
}

/** What a unit written by ten install says about itself: the other files, the data dir. */
export function readInstalled(text: string): { wrote: string[]; dataDir: string | null } | null {
  if (!text.startsWith(UNIT_MARKER)) return null;
  const wrote = text.split('\n').filter((l) => l.startsWith(WROTE_PREFIX)).map((l) => l.slice(WROTE_PREFIX.length));
  const rw = /^ReadWritePaths=("(?:[^"\\]|\\.)*"|\S+)/m.exec(text)?.[1];
  const dataDir = rw === undefined ? null : (rw.startsWith('"') ? rw.slice(1, -1).replace(/\\(.)/g, '$1') : rw).replace(/%%/g, '%'); // pathArg's escaping undone
  return { wrote, dataDir };
}

/** The steps of `ten uninstall`, from the unit at `unitDir`. TEN_ERR_INSTALL_NOT_INSTALLED when
 *  there is none, or it was not written by ten install. */
export function planUninstall(o: { unitDir: string; filesOnly: boolean }): Plan {
  const unitPath = resolve(o.unitDir, UNIT_NAME);
  const text = existsSync(unitPath) ? readFileSync(unitPath, 'utf8') : undefined;
  const installed = text === undefined ? null : readInstalled(text);
  if (!installed) throw tenErr('TEN_ERR_INSTALL_NOT_INSTALLED', unitPath, text === undefined ? 'there is none' : 'it was not written by ten install');
  const steps: Step[] = [];
  const notes: string[] = [];
  if (!o.filesOnly) {
    steps.push({ kind: 'run', argv: ['systemctl', 'disable', '--now', UNIT_NAME], why: 'stop ten serve, which stops every app gracefully, and keep it from starting at boot' });
    steps.push({ kind: 'run', argv: ['systemctl', 'kill', '--kill-whom=all', '--signal=SIGKILL', UNIT_NAME], why: 'end any app still left in the unit\'s cgroup (a stop that timed out leaves them, KillMode=process)', optional: true });
  }
  steps.push({ kind: 'run', argv: ['rm', '-f', unitPath], why: 'the unit' });
  let caddy = false;
  for (const f of installed.wrote) {
    const ours = existsSync(f) && readFileSync(f, 'utf8').startsWith(CADDY_MARKER);
    if (ours) steps.push({ kind: 'run', argv: ['rm', '-f', f], why: 'the Caddyfile ten install wrote' });
    else notes.push(`${f} was not removed: it is not the one ten install wrote (it changed, or is gone)`);
    if (existsSync(`${f}${BEFORE}`)) {
      steps.push({ kind: 'run', argv: ['mv', `${f}${BEFORE}`, f], why: 'put back the Caddyfile ten install had replaced' });
      caddy = true;
    } else if (ours) notes.push(`Caddy has no Caddyfile at ${f} now: stop it (systemctl stop caddy) or give it one`);
  }
  if (!o.filesOnly) {
    steps.push({ kind: 'run', argv: ['systemctl', 'daemon-reload'], why: 'make systemd forget the unit' });
    steps.push({ kind: 'run', argv: ['systemctl', 'reset-failed', UNIT_NAME], why: 'forget a failed state, if any', optional: true });
    if (caddy) steps.push({ kind: 'run', argv: ['systemctl', 'reload-or-restart', 'caddy.service'], why: 'make Caddy use its own Caddyfile again' });
  }
  notes.push(installed.dataDir
    ? `kept the data dir ${installed.dataDir} (the store, logs, API token and every instance's DATA_DIR): back it up or remove it yourself`
    : 'kept the data dir');
  return { unit: unitPath, steps, notes };
}
