// `ten init`: the commented tenement.toml written for an AppPlan. Every value is a TOML basic
// string or a number; strings are written with JSON.stringify, whose escapes (\" \\ \n \uXXXX)
// are all TOML basic-string escapes (TOML 1.0, "String"). docs/configuration.md has every key.
import type { AppPlan } from './init-detect.ts';
import { shown } from './output.ts';

/** What goes into [settings]. */
export interface InitSettings {
  port: number;
  /** Relative to the config file's folder. */
  data_dir: string;
}

/** The instance ids `ten init` puts under [instances]: started by ten serve at boot. */
export const BOOT_IDS = ['prod'] as const;

const str = (s: string) => JSON.stringify(s);

/** `key = value` with a comment lined up at column 32. */
function line(kv: string, comment?: string): string {
  return comment === undefined ? kv : `${kv.padEnd(31)} # ${comment}`;
}

/** The whole file: settings, the service, its env, [instances]. Passes `ten config` as is. */
export function renderConfig(plan: AppPlan, s: InitSettings): string {
  const name = plan.name;
  const plain = plan.argv.every((a) => /^[\w@%+=:,./-]+$/.test(a));
  const out = [
    `# tenement.toml for ${name}, written by \`ten init\` from ${plan.source}.`,
    '# Check it with `ten config`, run it with `ten serve`. Every key is in docs/configuration.md.',
    '',
    '[settings]',
    line('domain = "localhost"', `${name}.localhost reaches the app, prod.${name}.localhost one instance`),
    line('listen = "127.0.0.1"', '"0.0.0.0" takes traffic from other hosts too'),
    line(`port = ${s.port}`),
    line(`data_dir = ${str(s.data_dir)}`, 'store, logs, API token; each instance\'s DATA_DIR is under it'),
    '',
    `[service.${name}]`,
    '# The app listens on the port in $PORT: tenement sets PORT (and DATA_DIR, SOCKET_PATH).',
    ...plan.notes.map((n) => `# ${n}`),
    plain ? line(`command = ${str(plan.argv.join(' '))}`, 'split like a shell would, never run by one')
      : line(`args = [${plan.argv.map(str).join(', ')}]`, 'the argv, as is'),
  ];
  if (plan.workdir !== undefined) out.push(line(`workdir = ${str(plan.workdir)}`, 'relative to this file\'s folder'));
  if (plan.user) out.push(`# ${plan.user.why}`, line(`user = ${str(plan.user.name)}`, 'who the apps run as'));
  for (const w of plan.warnings ?? []) out.push(`# WARNING: ${w}`);
  if (plan.health) out.push(line(`health = ${str(plan.health)}`, 'GET it: 2xx or 3xx is healthy'));
  else out.push(line('# health = "/health"', 'no health path found: the probe connects to PORT; set a path that answers 2xx'));
  if (plan.startup_timeout !== undefined) out.push(line(`startup_timeout = ${plan.startup_timeout}`, 'seconds to accept connections: it compiles first'));
  out.push(
    line('# idle_timeout = 300', 'stop an instance after 5 idle minutes; the next request starts it'),
    line('# spawn_on_request = true', `a request to ID.${name}.localhost creates instance ID (one per tenant)`),
  );
  const env = Object.entries(plan.env);
  if (env.length > 0) {
    out.push('', `[service.${name}.env]`, ...env.map(([k, v]) => `${/^[A-Za-z0-9_-]+$/.test(k) ? k : str(k)} = ${str(v)}`));
  }
  out.push('', '[instances]', line(`${name} = [${BOOT_IDS.map(str).join(', ')}]`, 'started by ten serve at boot'), '');
  return out.join('\n');
}

/** The command line the plan runs, for messages. */
export function planCommand(plan: AppPlan): string {
  const env = Object.entries(plan.env).map(([k, v]) => `${k}=${shown([v])}`);
  return [...env, shown(plan.argv)].join(' ');
}
