import { Command, Option } from 'clipanion';
import type { TenementConfig } from '../../core/types.ts';
import { shown } from '../output.ts';
import { BaseCommand } from './base.ts';

/** The summary `ten config` prints: settings, services, boot instances and the loaded plugins. */
function summarizeConfig(c: TenementConfig, loaded: ReadonlyArray<{ def: { name: string }; slot?: string; options: Record<string, unknown> }>): string {
  const s = c.settings;
  const lines = [
    `config     ${c.path ?? '(defaults: no file)'}`,
    `listen     ${s.listen}:${s.port}`,
    ...(s.tls ? [`https      ${s.listen}:${s.tls.port}, cert ${s.tls.cert}, key ${s.tls.key}; ${s.tls.redirect ? `:${s.port} redirects to it` : `:${s.port} serves plain HTTP too`}`] : []),
    `domain     ${s.domain}`,
    `data_dir   ${s.data_dir}`,
    `health     every ${s.health_interval} s, timeout ${s.health_timeout} s`,
    `restarts   ${s.max_restarts} per ${s.restart_window} s, backoff ${s.backoff_base}-${s.backoff_max} s`,
  ];
  const services = Object.values(c.services);
  lines.push(`services   ${services.length === 0 ? '(none)' : ''}`.trimEnd());
  for (const svc of services) {
    lines.push(`  ${svc.name}: ${shown(svc.argv)}`);
    lines.push(`    workdir ${svc.workdir}, health ${svc.health ?? 'tcp'}, weight ${svc.weight}, restart ${svc.restart}, isolation ${svc.isolation}`);
  }
  const boot = Object.entries(c.instances).flatMap(([svc, ids]) => ids.map((id) => `${svc}:${id}`));
  lines.push(`instances  ${boot.length === 0 ? '(none at boot)' : boot.join(' ')}`);
  const off = Object.entries(c.plugins.slots).filter(([, p]) => p === false).map(([slot]) => slot);
  lines.push(`plugins    ${loaded.length === 0 ? '(none)' : ''}`.trimEnd());
  for (const p of loaded) {
    const options = Object.entries(p.options).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ');
    lines.push(`  ${p.slot ?? 'extra'}: ${p.def.name}${options ? ` (${options})` : ''}`);
  }
  if (off.length > 0) lines.push(`  off: ${off.join(', ')}`);
  return lines.join('\n') + '\n';
}

/** What the config asks of this host that it cannot give, though the file is valid (exit 0): a
 *  workdir the apps' user cannot read and enter (core/run-as.ts, the check ten doctor and
 *  tenement-init make), which would fail every start of the service under ten serve. */
async function hostWarnings(c: TenementConfig): Promise<string[]> {
  const { blockedMessage, workdirBlocked } = await import('../../core/run-as.ts');
  const root = process.getuid?.() === 0;
  return Object.values(c.services).flatMap((svc) => {
    const b = workdirBlocked(svc, c.settings, root);
    return b ? [`ten serve cannot start service.${svc.name}: ${blockedMessage(b, root)}`] : [];
  });
}

export class ConfigCommand extends BaseCommand {
  static paths = [['config']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Validate the config file and print the resolved config',
    details: `
      Loads tenement.toml (from \`--config\`, \`$TENEMENT_CONFIG\`, or the working directory) exactly as \`ten serve\` would: the file is parsed and checked, then every plugin it names (and each default) is imported, its options are validated against its schema and its \`create()\` runs, and every service's \`isolation\` level must be served. Prints a summary, with defaults filled in and paths made absolute, or the whole resolved config with \`--json\`. Does not contact the server and writes nothing.

      On an invalid config prints the error (with its line) and exits 1. What \`ten serve\` would only warn about at start (a \`[settings.tls]\` certificate that has expired, or whose names leave some of the served names uncovered) is printed on stderr as \`warning CODE: …\`; a valid config that this host cannot run as is (a service's workdir its apps' user cannot read and enter, as \`ten doctor\` checks) gets a \`warning:\` line (and \`warnings\` in \`--json\`). The exit code stays 0.
    `,
    examples: [
      ['Check ./tenement.toml', '$0 config'],
      ['Check another file and print it as JSON', '$0 config --config /etc/tenement/tenement.toml --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the resolved config as JSON' });

  async perform(): Promise<void> {
    const [{ loadConfig }, { preparePlugins }, { BUILTINS }] = await Promise.all([
      import('../../core/config.ts'), import('../../core/loader.ts'), import('../../plugins/index.ts'),
    ]);
    const config = loadConfig({ path: this.config, cwd: process.cwd(), env: process.env });
    const plugins = await preparePlugins(config, BUILTINS); // the same verdict as ten serve
    // [settings.tls]: the pair was read with the config; what would only be warned about at start
    // (an expired certificate, names it does not cover: core/tls-names.ts) is said here too, on stderr
    const t = config.settings.tls;
    if (t) {
      const [{ readKeyPair }, { certWarnings, servedNames }] = await Promise.all([import('../../core/tls.ts'), import('../../core/tls-names.ts')]);
      const pair = readKeyPair(t.cert, t.key);
      if (!(pair instanceof Error)) {
        for (const w of certWarnings(pair, t.cert, servedNames(config.settings.domain, Object.keys(config.services)), Date.now())) this.context.stderr.write(`warning ${w.code}: ${w.message}\n  hint: ${w.hint}\n`);
      }
    }
    const warnings = await hostWarnings(config);
    if (this.json) this.outJson({ ...config, loaded: plugins.map((p) => ({ name: p.def.name, slot: p.slot ?? null, use: p.use, options: p.options })), warnings });
    else this.context.stdout.write(summarizeConfig(config, plugins));
    for (const w of warnings) this.context.stderr.write(`warning: ${w}\n`);
  }
}
