// `ten doctor`: what this host gives tenement's apps — tenement-init, containment (cgroups, the
// subreaper), the cgroup controllers behind the limits and the freezer, the isolation levels, the
// users apps run as — probed the way ten serve probes them (core/cgroup.ts, linux-isolation's
// support.ts), and checked against what the config's services ask for. Starts no app and needs no
// ten serve. docs/isolation.md explains each line.
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'clipanion';
import type { CgroupSupport, Controller, Hierarchy } from '../../core/cgroup.ts';
import { TenementError, type ErrorCode } from '../../core/errors.ts';
import type { TenementConfig } from '../../core/types.ts';
import { printError } from '../output.ts';
import { BaseCommand } from './base.ts';

/** One mechanism: works here, or why not (and, in `fix`, how to get it). */
export interface Check { ok: boolean; why: string | null; fix: string | null }

/** What a missing controller costs, and the key that needs it. */
const CONTROLLERS: ReadonlyArray<{ name: Exclude<Controller, 'cpuacct'>; key: string }> = [
  { name: 'memory', key: 'memory_limit_mb' },
  { name: 'cpu', key: 'cpu_limit' },
  { name: 'pids', key: 'pids_limit' },
  { name: 'freezer', key: 'idle_action = "suspend"' },
];
const LIMIT_KEYS = ['memory_limit_mb', 'cpu_limit', 'pids_limit'] as const;
const LIMIT_CONTROLLER: Record<(typeof LIMIT_KEYS)[number], Controller> = { memory_limit_mb: 'memory', cpu_limit: 'cpu', pids_limit: 'pids' };
const LINUX_ISOLATION = 'linux-isolation';
const LEVEL_WHAT: Record<string, string> = {
  process: 'only what every instance gets: tenement-init, its cgroup, its user',
  namespace: 'util-linux unshare: new PID, mount, IPC and UTS namespaces',
  sandbox: 'bubblewrap: namespace + read-only system, only its own folders, no capabilities',
};
const CGROUP_FIX = 'run ten serve as root, or as a systemd service with Delegate=yes (cgroup v2)';
const V1_FIX = 'run ten serve as root (cgroup v1 hierarchies belong to root)';

/** What `ten doctor --json` prints (stable: keys are only ever added). */
export interface DoctorReport {
  /** Everything the config asks for works here (the exit code is 0). */
  ok: boolean;
  /** The config file read, or null: none was found and the defaults were used. */
  config: string | null;
  data_dir: string;
  /** The folder name of this data_dir's cgroups (core/cgroup.ts cgroupTag). */
  cgroup_tag: string;
  uid: number;
  root: boolean;
  init: Check & { path: string };
  containment: {
    /** The hierarchy whose cgroup.procs lists an instance's processes, or null (subreaper only). */
    membership: 'v2' | 'v1' | null;
    cgroup_v2: Check & { dir: string | null };
    cgroup_v1: Check & { controllers: string[] };
    subreaper: Check;
  };
  controllers: Record<Exclude<Controller, 'cpuacct'>, Check & { for: string; version: 'v1' | 'v2' | null; dir: string | null }>;
  isolation: {
    /** The plugin in the isolation slot, or null when the slot is off. */
    plugin: string | null;
    /** linux-isolation's levels, probed; empty when another plugin (or none) fills the slot. */
    levels: Record<string, Check & { what: string }>;
  };
  users: {
    /** Who apps run as when their service and [settings] name nobody: `nobody` as root, else
     *  ten serve's own user (null). */
    default_user: string | null;
    nobody: { exists: boolean; uid: number | null };
  };
  services: Array<{
    name: string;
    isolation: string;
    /** The user its apps run as (null: ten serve's own). */
    user: string | null;
    group: string | null;
    limits: Partial<Record<(typeof LIMIT_KEYS)[number], number>>;
    idle_action: string;
    ok: boolean;
  }>;
  /** [settings.tls]'s certificate (null without one): ok while it has not expired. */
  tls: (Check & { cert: string; serial: string; not_after: string; days_left: number; names: string[];
    /** The names tenement serves that the certificate does not cover (a warning: `ten serve` starts), and the warning. */
    uncovered: string[]; uncovered_why: string | null }) | null;
  /** What the config asks for and this host lacks, as `ten serve` would report it. */
  problems: Array<{ code: ErrorCode; message: string; hint: string; services: string[] }>;
}

export class DoctorCommand extends BaseCommand {
  static paths = [['doctor']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Show which isolation levels, limits and containment work on this host',
    details: `
      Probes this host the way \`ten serve\` does and prints, section by section, what works and, for the rest, why not and how to get it: tenement-init (the init every app runs under), containment (a cgroup per instance, v2 or v1; the subreaper), the cgroup controllers behind \`memory_limit_mb\`, \`cpu_limit\`, \`pids_limit\` and \`idle_action = "suspend"\`, the isolation levels \`process\`, \`namespace\` and \`sandbox\`, and the users apps run as. Then each service of the config with what it asks for.

      Reads the config like \`ten config\` (\`--config\`, \`$TENEMENT_CONFIG\` or ./tenement.toml; the defaults when there is none) for its \`data_dir\` (which names its cgroups) and its services. Starts no app and needs no running \`ten serve\`: it makes a test cgroup and removes what it made, and runs \`true\` under each level. Run it as the user, and in the service manager, \`ten serve\` runs as: cgroups and levels depend on both.

      Exits 0 when everything the config's services ask for (their isolation levels, limits, users) works here, else 1, with one \`error TEN_ERR_…\` line per problem on stderr. \`--json\` prints the whole report as one object.
    `,
    examples: [
      ['Check this host for ./tenement.toml', '$0 doctor'],
      ['Check another config', '$0 doctor --config /etc/tenement/tenement.toml'],
      ['The report as JSON, for scripts', '$0 doctor --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the report as JSON' });

  async perform(): Promise<number> {
    const report = await diagnose(this.config);
    if (this.json) this.outJson(report);
    else this.context.stdout.write(formatDoctor(report));
    for (const p of report.problems) printError(this.context.stderr, Object.assign(new Error(p.message), { code: p.code, hint: p.hint }));
    return report.ok ? 0 : 1;
  }
}

// ---------------------------------------------------------------- the probe

/** Probe this host for the config at `configPath` (or the one ten serve would find). */
export async function diagnose(configPath: string | undefined): Promise<DoctorReport> {
  const [{ findConfigPath, loadConfig, parseConfig }, { resolvePlugins }, { BUILTINS }, { cgroupTag, probeCgroups }, { INIT_PATH }, support, { blockedMessage, lookup, workdirBlocked }] = await Promise.all([
    import('../../core/config.ts'), import('../../core/loader.ts'), import('../../plugins/index.ts'), import('../../core/cgroup.ts'),
    import('../../core/process.ts'), import('../../plugins/linux-isolation/support.ts'), import('../../core/run-as.ts'),
  ]);
  const found = findConfigPath({ path: configPath, cwd: process.cwd(), env: process.env });
  const config: TenementConfig = found === undefined ? parseConfig('', join(process.cwd(), 'tenement.toml')) : loadConfig({ path: found });
  // the same verdict as ten serve on the plugins and the services' levels; imports, creates nothing
  const plugins = await resolvePlugins(config, BUILTINS);
  const isolationPlugin = plugins.find((p) => p.slot === 'isolation')?.def.name ?? null;

  const uid = process.getuid?.() ?? -1;
  const root = uid === 0;
  const problems: DoctorReport['problems'] = [];
  const problem = (code: ErrorCode, args: string[], services: string[] = []) => {
    const e = new TenementError(code, args);
    const same = problems.find((p) => p.code === code && p.message === e.message);
    if (same) same.services.push(...services.filter((s) => !same.services.includes(s)));
    else problems.push({ code, message: e.message, hint: e.hint, services });
  };
  const bad = new Set<string>(); // services with a problem

  // tenement-init
  const built = existsSync(INIT_PATH);
  const initMissing = new TenementError('TEN_ERR_ISOLATION_INIT_MISSING', [INIT_PATH]);
  const init = { ok: built, path: INIT_PATH, why: built ? null : initMissing.message, fix: built ? null : initMissing.hint };
  if (!built) {
    problem('TEN_ERR_ISOLATION_INIT_MISSING', [INIT_PATH], Object.keys(config.services));
    for (const s of Object.keys(config.services)) bad.add(s);
  }

  // containment: probe like ten serve, then remove the cgroup folders the probe made
  const tag = cgroupTag(config.settings.data_dir);
  const before = new Set(cgroupFolders(tag).filter((d) => existsSync(d)));
  const cg: CgroupSupport = probeCgroups(tag);
  for (const d of cgroupFolders(tag)) if (!before.has(d)) { try { rmdirSync(d); } catch { /* busy or gone */ } }
  const membership = cg.membership ? (cg.membership.v2 ? 'v2' : 'v1') : null;
  const v1 = [...new Set(Object.entries(cg.controllers).filter(([, h]) => !h.v2).map(([c]) => c))];
  const containment: DoctorReport['containment'] = {
    membership,
    cgroup_v2: membership === 'v2'
      ? { ok: true, why: null, fix: null, dir: cg.membership!.dir }
      : { ok: false, why: cg.missing['cgroup-v2'] ?? 'not usable', fix: CGROUP_FIX, dir: null },
    cgroup_v1: v1.length > 0 || membership === 'v1'
      ? { ok: true, why: null, fix: null, controllers: v1 }
      : { ok: false, why: cg.missing['cgroup-v1'] ?? (membership === 'v2' ? 'no v1 hierarchy is used: cgroup v2 has what is needed' : 'no cgroup v1 hierarchy can be used'), fix: membership === 'v2' ? null : V1_FIX, controllers: [] },
    subreaper: built ? { ok: true, why: null, fix: null } : { ok: false, why: 'tenement-init is not built', fix: initMissing.hint },
  };
  const controllers = Object.fromEntries(CONTROLLERS.map(({ name, key }) => {
    const h: Hierarchy | undefined = cg.controllers[name];
    if (h) return [name, { ok: true, why: null, fix: null, for: key, version: h.v2 ? 'v2' : 'v1', dir: h.dir }];
    const why = cg.missing[name] ?? (cg.membership ? `no ${name} controller` : 'no cgroup is usable here');
    const fix = name === 'freezer' ? 'idle_action = "suspend" still works: it stops the instance\'s processes with SIGSTOP instead' : `give ten serve the ${name} controller: ${CGROUP_FIX}`;
    return [name, { ok: false, why, fix, for: key, version: null, dir: null }];
  })) as DoctorReport['controllers'];

  // isolation levels (linux-isolation's; another plugin's levels are its own business)
  const levels: DoctorReport['isolation']['levels'] = {};
  if (isolationPlugin === LINUX_ISOLATION) {
    for (const level of support.LEVELS) {
      const why = built ? support.levelSupport(level) : 'needs tenement-init, which is not built';
      levels[level] = { ok: why === null, why, fix: why === null ? null : built ? fixOfLevel(level, root) : initMissing.hint, what: LEVEL_WHAT[level] };
    }
  }

  // users
  const nobodyUid = lookup('passwd', 'nobody');
  const users: DoctorReport['users'] = { default_user: root ? (config.settings.user ?? 'nobody') : null, nobody: { exists: nobodyUid !== null, uid: nobodyUid } };

  // what each service asks for
  const services: DoctorReport['services'] = [];
  for (const svc of Object.values(config.services)) {
    const key = `service.${svc.name}`;
    const fail = (code: ErrorCode, args: string[]) => { problem(code, args, [svc.name]); bad.add(svc.name); };
    const wantsUser = (svc.user ?? config.settings.user) !== undefined || (svc.group ?? config.settings.group) !== undefined;
    const user = root ? svc.user ?? config.settings.user ?? 'nobody' : null;
    const group = root ? svc.group ?? config.settings.group ?? null : null;
    if (!root && wantsUser) fail('TEN_ERR_ISOLATION_NOT_ROOT', [key, String(uid)]);
    // what tenement-init would fail on at the start (its own words: `user X: no such user`), and
    // a workdir the app's user cannot read and enter (tenement-init refuses to start the app: core/run-as.ts)
    if (user !== null && !/^\d+$/.test(user) && lookup('passwd', user) === null) {
      fail('TEN_ERR_INSTANCE_SPAWN_FAILED', [key, `user ${user}: no such user on this host (${svc.user !== undefined ? `${key}.user` : config.settings.user !== undefined ? 'settings.user' : 'the default user, as ten serve runs as root'})`]);
    } else if (group !== null && !/^\d+$/.test(group) && lookup('group', group) === null) {
      fail('TEN_ERR_INSTANCE_SPAWN_FAILED', [key, `group ${group}: no such group on this host (${svc.group !== undefined ? `${key}.group` : 'settings.group'})`]);
    } else {
      const blocked = built ? workdirBlocked(svc, config.settings, root) : null;
      if (blocked) fail('TEN_ERR_INSTANCE_SPAWN_FAILED', [key, blockedMessage(blocked, root)]);
    }
    const limits: DoctorReport['services'][number]['limits'] = {};
    for (const k of LIMIT_KEYS) {
      const v = svc[k];
      if (v === undefined) continue;
      limits[k] = v;
      const c = LIMIT_CONTROLLER[k];
      // ten serve applies limits only inside an instance cgroup: without membership they are lost
      if (!cg.controllers[c] || !cg.membership) fail('TEN_ERR_ISOLATION_LIMIT_UNAVAILABLE', [`${key}.${k}`, cg.missing[c] ?? (cg.membership ? `no ${c} controller` : 'no cgroup is usable here')]);
    }
    const level = levels[svc.isolation];
    if (level && !level.ok) fail('TEN_ERR_ISOLATION_UNAVAILABLE', [svc.isolation, level.why!]);
    services.push({ name: svc.name, isolation: svc.isolation, user, group, limits, idle_action: svc.idle_action, ok: !bad.has(svc.name) });
  }

  // [settings.tls]: how long the certificate has left (the pair itself was checked with the config),
  // and the names it leaves uncovered (core/tls-names.ts: a warning, not a problem, as at start)
  let tls: DoctorReport['tls'] = null;
  const t = config.settings.tls;
  const pair = t ? (await import('../../core/tls.ts')).readKeyPair(t.cert, t.key) : undefined;
  if (t && pair && !(pair instanceof TenementError)) {
    const { certWarnings, servedNames } = await import('../../core/tls-names.ts');
    const now = Date.now();
    const days = Math.floor((Date.parse(pair.notAfter) - now) / 86_400_000);
    const warnings = certWarnings(pair, t.cert, servedNames(config.settings.domain, Object.keys(config.services)), now);
    const dates = warnings.find((w) => w.code !== 'TEN_ERR_TLS_CERT_NAMES');
    const names = warnings.find((w) => w.code === 'TEN_ERR_TLS_CERT_NAMES');
    if (dates) problem(dates.code, [t.cert, dates.code === 'TEN_ERR_TLS_CERT_EXPIRED' ? pair.notAfter : pair.notBefore]);
    tls = { ok: !dates, why: dates?.message ?? null, fix: dates?.hint ?? null,
      cert: t.cert, serial: pair.serial, not_after: pair.notAfter, days_left: days, names: pair.names,
      uncovered: (names?.details.uncovered as string[] | undefined) ?? [], uncovered_why: names?.message ?? null };
  }

  return {
    ok: problems.length === 0, config: found ?? null, data_dir: config.settings.data_dir, cgroup_tag: tag, uid, root,
    init, containment, controllers, isolation: { plugin: isolationPlugin, levels }, users, services, tls, problems,
  };
}

/** How to get a level that does not run here. */
function fixOfLevel(level: string, root: boolean): string {
  if (level === 'namespace') return root ? 'install util-linux (apt install util-linux)' : 'run ten serve as root';
  return 'install bubblewrap (apt install bubblewrap); as another user than root, the kernel must allow unprivileged user namespaces';
}

/**
 * The folders probeCgroups may make for `tag`: `<mount>/<own cgroup>/<tag>` in each mounted
 * hierarchy (the layout of core/cgroup.ts), so that ten doctor removes only what it made, never
 * the folders of a ten serve that runs with the same data_dir.
 */
function cgroupFolders(tag: string): string[] {
  const own = new Map<string, string>();
  for (const line of read('/proc/self/cgroup').trim().split('\n')) {
    const first = line.indexOf(':');
    const last = line.lastIndexOf(':');
    if (first < 0 || last <= first) continue;
    const [id, list, path] = [line.slice(0, first), line.slice(first + 1, last), line.slice(last + 1)];
    if (id === '0' && list === '') own.set('v2', path);
    else for (const c of list.split(',')) own.set(c, path);
  }
  const out: string[] = [];
  for (const line of read('/proc/self/mountinfo').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const [fstype, , options = ''] = right.split(' ');
    const mount = left.split(' ')[4];
    if (fstype === 'cgroup2') out.push(join(mount, own.get('v2') ?? '/', tag));
    else if (fstype === 'cgroup') {
      const path = options.split(',').map((o) => own.get(o)).find((p) => p !== undefined);
      out.push(join(mount, path ?? '/', tag));
    }
  }
  return out;
}

function read(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}

// ---------------------------------------------------------------- the text

const mark = (c: { ok: boolean }) => (c.ok ? 'ok' : 'no');

/** The report as `ten doctor` prints it: sections of `ok`/`no` lines; a `no` has why and fix. */
export function formatDoctor(r: DoctorReport): string {
  const out: string[] = [];
  const line = (c: Check | null, label: string, text: string) => {
    out.push(`  ${c === null ? '--' : mark(c)}  ${label.padEnd(11)} ${text}`.trimEnd());
    if (c && !c.ok) {
      if (c.why) out.push(`               why: ${c.why}`);
      if (c.fix) out.push(`               fix: ${c.fix}`);
    }
  };
  out.push(`config      ${r.config ?? '(none found: the defaults)'}`);
  out.push(`data_dir    ${r.data_dir} (cgroups named ${r.cgroup_tag})`);
  out.push(`runs as     ${r.root ? 'root' : `uid ${r.uid}, not root`}`);

  out.push('', 'tenement-init (every app runs under it)');
  line(r.init, 'built', r.init.path);

  const c = r.containment;
  out.push('', 'containment');
  line(c.cgroup_v2, 'cgroup v2', c.cgroup_v2.ok ? `a cgroup per instance lists its processes: ${c.cgroup_v2.dir}/<service>.<id>` : '');
  if (c.cgroup_v1.ok) line(c.cgroup_v1, 'cgroup v1', `${c.membership === 'v1' ? 'a cgroup per instance lists its processes; ' : ''}controllers ${c.cgroup_v1.controllers.join(', ') || 'none'}`);
  else line(c.cgroup_v1.fix === null ? null : c.cgroup_v1, 'cgroup v1', c.cgroup_v1.fix === null ? `not used: ${c.cgroup_v1.why}` : '');
  line(c.subreaper, 'subreaper', c.subreaper.ok
    ? `tenement-init adopts what an app leaves behind and ends it${c.membership ? '' : ' (the only containment here: no cgroup)'}`
    : '');

  out.push('', 'controllers');
  for (const [name, k] of Object.entries(r.controllers)) {
    const text = k.ok
      ? `${k.for}: ${name === 'freezer' ? `cgroup freezer (${k.version === 'v2' ? 'cgroup.freeze' : 'freezer.state'}) in ` : ''}cgroup ${k.version} ${k.dir}`
      : `${k.for}${name === 'freezer' ? ': SIGSTOP/SIGCONT of its processes instead' : ''}`;
    line(k, name, text);
  }

  out.push('', `isolation levels (${r.isolation.plugin === null ? 'the isolation slot is off: levels are not applied' : `plugin ${r.isolation.plugin}`})`);
  const levels = Object.entries(r.isolation.levels);
  if (levels.length === 0 && r.isolation.plugin !== null) out.push(`  --  ten doctor probes linux-isolation's levels only; ${r.isolation.plugin} serves its own`);
  for (const [name, l] of levels) line(l, name, l.what);

  out.push('', 'users');
  out.push(r.root
    ? `  ok  root        apps run as their service's user, else [settings] user, else ${r.users.default_user}`
    : `  --  not root    apps run as this same user (uid ${r.uid}) and can read what it can, except under sandbox; user and group need root`);
  line({ ok: r.users.nobody.exists, why: r.users.nobody.exists ? null : 'no user nobody in the system\'s user database', fix: r.users.nobody.exists ? null : 'create it (useradd --system nobody), or set user in [settings]' },
    'nobody', r.users.nobody.exists ? `exists (uid ${r.users.nobody.uid})` : '');

  out.push('', `services${r.services.length === 0 ? ' (none in the config)' : ''}`);
  for (const s of r.services) {
    const asks = [`isolation ${s.isolation}`, `user ${s.user ?? `uid ${r.uid} (ten serve's own)`}${s.group ? `:${s.group}` : ''}`,
      ...Object.entries(s.limits).map(([k, v]) => `${k} ${v}`), ...(s.idle_action === 'suspend' ? ['idle_action suspend'] : [])];
    out.push(`  ${s.ok ? 'ok' : 'no'}  ${s.name.padEnd(11)} ${asks.join(', ')}`);
  }

  if (r.tls) {
    out.push('', 'tls ([settings.tls])');
    const d = r.tls.days_left;
    const ago = -d - 1; // whole days since notAfter (days_left is floored)
    const left = d >= 0 ? `${d} day${d === 1 ? '' : 's'} left` : ago === 0 ? 'expired less than a day ago' : `expired ${ago} day${ago === 1 ? '' : 's'} ago`;
    line(r.tls, 'certificate', `${r.tls.cert}: serial ${r.tls.serial}, valid until ${r.tls.not_after} (${left}), ${r.tls.names.join(', ')}`);
    if (r.tls.uncovered_why) out.push(`  !!  names       not covered: ${r.tls.uncovered.join(', ')}`, `               why: ${r.tls.uncovered_why}`,
      '               fix: a certificate with these names too (a wildcard covers exactly one label: RFC 6125 §6.4.3); ten serve starts without them');
  }

  out.push('', r.ok ? 'everything the config asks for works on this host'
    : `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}: what the config asks for and this host lacks (below, on stderr)`);
  return `${out.join('\n')}\n`;
}
