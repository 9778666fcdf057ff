// `ten install` and `ten uninstall`: tenement as a systemd service, optionally behind Caddy. The
// steps come from cli/install/plan.ts; here they are printed (--dry-run) or carried out, in order,
// each announced before it runs.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import type { Plan, Step } from '../install/plan.ts';
import { BaseCommand } from './base.ts';

/** Default folders: the administrator's units (systemd.unit(5), "Unit File Load Path") and the
 *  Caddyfile of Debian's caddy package. */
const UNIT_DIR = '/etc/systemd/system';
const CADDYFILE = '/etc/caddy/Caddyfile';
/** How long one command may run (systemctl stop waits for ten serve to stop every app). */
const STEP_TIMEOUT_MS = 15 * 60_000;

/** A step as a POSIX shell command line, which a reader may paste into a shell (never run through
 *  one here): an argument that is not plain goes in single quotes, where nothing is special but
 *  `'` itself, written '\'' (POSIX.1-2017 Shell Command Language §2.2.2). Not systemd's escaping. */
export const shown = (argv: string[]) => argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');

/** Why systemd cannot be driven here, or null when it can (sd_booted(3): /run/systemd/system
 *  exists only when systemd is the running init; systemctl must be on PATH). */
function noSystemd(): string | null {
  if (!existsSync('/run/systemd/system')) {
    let init = '?';
    try { init = readFileSync('/proc/1/comm', 'utf8').trim(); } catch { /* not Linux */ }
    return `PID 1 is ${init}, and /run/systemd/system does not exist`;
  }
  const r = spawnSync('systemctl', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  return r.error ? `systemctl cannot be run: ${(r.error as NodeJS.ErrnoException).code}` : null;
}

/** The plan as --dry-run prints it: every file in full, every command, then the notes. */
export function formatPlan(verb: string, p: Plan): string {
  const out = [`# ten ${verb} --dry-run: nothing was written and nothing was run. Without --dry-run, in this order:`, ''];
  p.steps.forEach((s, i) => {
    if (s.kind === 'write') {
      out.push(`## ${i + 1}. write ${s.path} (mode 0${s.mode.toString(8)}): ${s.why}`, '', s.content.trimEnd(), '');
    } else {
      out.push(`## ${i + 1}. run: ${shown(s.argv)}`, `#  ${s.why}${s.optional ? ' (may fail: then the next step runs anyway)' : ''}`, '');
    }
  });
  out.push('## notes', ...p.notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}

/** What both commands share: where the unit goes, the modes of running. */
abstract class SystemdCommand extends BaseCommand {
  unitDir = Option.String('--unit-dir', UNIT_DIR, { description: `Folder of the unit file (default ${UNIT_DIR})` });
  dryRun = Option.Boolean('--dry-run', false, { description: 'Print every file and command, and touch nothing' });
  filesOnly = Option.Boolean('--files-only', false, { description: 'Write (or remove) the files only: run no systemctl or caddy command (e.g. building an image)' });
  json = Option.Boolean('--json', false, { description: 'With --dry-run: print the steps as JSON' });

  /** Print the plan (dry run), or check the host and carry the steps out in order. */
  protected async carryOut(verb: string, plan: Plan, check: () => void): Promise<number> {
    if (this.json && !this.dryRun) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', '--json goes with --dry-run: it prints the steps');
    if (this.dryRun) {
      if (this.json) this.outJson(plan);
      else this.context.stdout.write(formatPlan(verb, plan));
      return 0;
    }
    if (!this.filesOnly) {
      const why = noSystemd();
      if (why) throw tenErr('TEN_ERR_INSTALL_NO_SYSTEMD', why);
    }
    check();
    plan.steps.forEach((s, i) => this.step(i + 1, plan.steps.length, s));
    for (const n of plan.notes) this.out(`note: ${n}`);
    return 0;
  }

  private step(n: number, total: number, s: Step): void {
    const label = s.kind === 'write' ? `write ${s.path}` : shown(s.argv);
    this.out(`[${n}/${total}] ${label}`);
    if (s.kind === 'write') {
      try {
        writeFileSync(s.path, s.content, { mode: s.mode });
        chmodSync(s.path, s.mode); // an existing file keeps its mode otherwise
      } catch (err) {
        throw tenErr('TEN_ERR_INSTALL_STEP_FAILED', String(n), label, (err as Error).message);
      }
      return;
    }
    const r = spawnSync(s.argv[0]!, s.argv.slice(1), { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8', timeout: STEP_TIMEOUT_MS });
    if (r.stderr) this.context.stderr.write(r.stderr);
    if (r.status === 0) return;
    const why = r.error ? (r.error as NodeJS.ErrnoException).code ?? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}${r.stderr ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`;
    if (s.optional) { this.out(`  (went on: ${why})`); return; }
    throw tenErr('TEN_ERR_INSTALL_STEP_FAILED', String(n), label, why);
  }
}

export class InstallCommand extends SystemdCommand {
  static paths = [['install']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Install ten serve as a systemd service (and Caddy in front for HTTPS)',
    details: `
      Writes a hardened systemd unit, \`tenement.service\`, that runs \`ten serve --config <this config> --domain D\` from this copy of tenement with this node, then starts it and enables it at boot: \`systemctl daemon-reload\`, \`systemctl enable --now\`. The unit explains each of its settings in a comment; docs/deployment.md (Running under systemd) explains the choices: \`KillMode=process\` with \`Delegate=yes\` so that a crash of ten serve leaves the apps running for the next one to adopt, \`TimeoutStopSec\` computed from \`drain_timeout\` and the longest \`stop_timeout\`, \`ProtectSystem=strict\` with the data dir (and a Unix-socket \`api_listen\`'s folder) the only writable paths, \`ProtectHome\` and \`PrivateTmp\` relaxed only when a path ten serve or its apps reach (config, data dir, workdirs, TLS files, plugin files, and their symlink targets) lies under a home folder or /tmp. The steps \`--dry-run\` prints are shell command lines, quoted for a POSIX shell.

      The config is read and checked as \`ten config\` reads it (\`--config\`, \`$TENEMENT_CONFIG\` or ./tenement.toml); the unit names its absolute path. \`--user\` runs ten serve as that user instead of root (then every app runs as that user too; see docs/isolation.md); the data dir is given to it.

      \`--caddy\` also writes a Caddyfile (default ${CADDYFILE}; an existing one is moved aside to \`…${'.before-tenement'}\` and put back by \`ten uninstall\`) for HTTPS on \`D\`, \`*.D\` and \`*.*.D\`: on-demand certificates, which Caddy obtains only for names tenement says it routes (\`GET /api/tls/ask\`), or with \`--caddy-dns PROVIDER\` wildcard certificates through that DNS provider (a Caddy built with its module).

      \`--dry-run\` prints every file in full and every command, in order, and touches nothing. Without it, the steps run in that order, each printed as it starts; the first that fails stops the rest. A unit that exists and differs is replaced only with \`--force\`. Where systemd is not running (a container), it refuses with TEN_ERR_INSTALL_NO_SYSTEMD; \`--files-only\` then writes the files and runs no systemctl command.
    `,
    examples: [
      ['See what it would do', '$0 install --domain example.com --config /srv/app/tenement.toml --dry-run'],
      ['Install and start it', 'sudo $0 install --domain example.com --config /srv/app/tenement.toml'],
      ['With Caddy in front for HTTPS', 'sudo $0 install --domain example.com --port 8080 --caddy'],
      ['Wildcard certificates through Cloudflare\'s DNS', 'sudo $0 install --domain example.com --caddy --caddy-dns cloudflare'],
    ],
  });

  domain = Option.String('--domain', { required: true, description: 'The base domain ten serve routes: D, {service}.D, {id}.{service}.D' });
  port = Option.String('--port', { description: 'The port ten serve listens on (default: the config\'s)' });
  user = Option.String('--user', { description: 'Run ten serve as this user (default: root)' });
  caddy = Option.Boolean('--caddy', false, { description: 'Also write a Caddyfile for HTTPS in front of tenement' });
  caddyDns = Option.String('--caddy-dns', { description: 'With --caddy: wildcard certificates through this DNS provider (caddy-dns module name, e.g. cloudflare)' });
  caddyfile = Option.String('--caddyfile', CADDYFILE, { description: `With --caddy: where the Caddyfile goes (default ${CADDYFILE})` });
  force = Option.Boolean('--force', false, { description: 'Replace a unit that exists and differs' });

  async perform(): Promise<number> {
    const [{ loadConfig }, { domainName, planInstall }] = await Promise.all([import('../../core/config.ts'), import('../install/plan.ts')]);
    const domain = domainName(this.domain);
    if (domain === null) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --domain ${JSON.stringify(this.domain)}: expected a host name like example.com (letters, digits, dashes and dots; no scheme, port or wildcard)`);
    let port: number | undefined;
    if (this.port !== undefined) {
      if (!/^\d{1,5}$/.test(this.port) || Number(this.port) < 1 || Number(this.port) > 65535) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --port ${JSON.stringify(this.port)}: must be a whole number from 1 to 65535`);
      port = Number(this.port);
    }
    if (this.user !== undefined && !/^([a-z_][a-z0-9_.-]*[$]?|[0-9]+)$/.test(this.user)) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --user ${JSON.stringify(this.user)}: expected a user name or a numeric uid`);
    if (this.caddyDns !== undefined && !this.caddy) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', '--caddy-dns goes with --caddy');
    if (this.caddyDns !== undefined && !/^[a-z0-9][a-z0-9_-]*$/.test(this.caddyDns)) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --caddy-dns ${JSON.stringify(this.caddyDns)}: expected a caddy-dns provider name like cloudflare or route53`);
    const config = loadConfig({ path: this.config, cwd: process.cwd(), env: process.env, overrides: { domain, port } });
    const plan = planInstall({
      config: config as typeof config & { path: string }, domain, port, user: this.user, unitDir: resolve(this.unitDir),
      caddy: this.caddy ? { path: resolve(this.caddyfile), dns: this.caddyDns } : undefined, filesOnly: this.filesOnly,
    });
    return this.carryOut('install', plan, () => {
      // the unit: the same text is left as it is (running again is harmless); another needs --force
      const unit = plan.steps.find((s): s is Extract<Step, { kind: 'write' }> => s.kind === 'write' && s.path === plan.unit)!;
      if (existsSync(plan.unit)) {
        const now = readFileSync(plan.unit, 'utf8');
        if (now === unit.content) plan.steps.splice(plan.steps.indexOf(unit), 1);
        else if (!this.force) throw tenErr('TEN_ERR_INSTALL_FILE_EXISTS', plan.unit);
        else plan.notes.push(`replaced ${plan.unit}: a ten serve that runs keeps the old settings until \`systemctl restart tenement\` (which restarts the apps too)`);
      }
    });
  }
}

export class UninstallCommand extends SystemdCommand {
  static paths = [['uninstall']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Stop and remove what ten install set up (the data dir is kept)',
    details: `
      Stops ten serve (\`systemctl disable --now tenement\`: ten serve stops every app gracefully first), ends any app still left in the unit's cgroup (after a stop that timed out), removes the unit and the Caddyfile \`ten install\` wrote (putting back the one it had moved aside), and runs \`systemctl daemon-reload\`. Only a unit written by \`ten install\` is touched.

      The data dir is kept — the store, the logs, the API token and every instance's DATA_DIR — and its path is printed: back it up or remove it yourself. \`--dry-run\` prints every step and touches nothing.
    `,
    examples: [
      ['See what it would do', '$0 uninstall --dry-run'],
      ['Remove tenement\'s service', 'sudo $0 uninstall'],
    ],
  });

  async perform(): Promise<number> {
    const { planUninstall } = await import('../install/plan.ts');
    const plan = planUninstall({ unitDir: resolve(this.unitDir), filesOnly: this.filesOnly });
    return this.carryOut('uninstall', plan, () => undefined);
  }
}
