import { Command, Option } from 'clipanion';
import type { TenementConfig } from '../../core/types.ts';
import { BaseCommand } from './base.ts';

/** argv as a shell would need it typed: arguments with spaces or special characters quoted. */
const shown = (argv: string[]) => argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');

export function summarizeConfig(c: TenementConfig): string {
  const s = c.settings;
  const lines = [
    `config     ${c.path ?? '(defaults: no file)'}`,
    `listen     ${s.listen}:${s.port}`,
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
  const slots = Object.entries(c.plugins.slots).map(([slot, p]) => `${slot}=${p === false ? 'off' : p.use}`);
  const plugins = [...slots, ...c.plugins.extra.map((p) => `extra=${p.use}`)];
  lines.push(`plugins    ${plugins.length === 0 ? '(defaults)' : plugins.join(' ')}`);
  return lines.join('\n') + '\n';
}

export class ConfigCommand extends BaseCommand {
  static paths = [['config']];
  static usage = Command.Usage({
    description: 'Validate the config file and print the resolved config',
    details: `
      Loads tenement.toml (from \`--config\`, \`$TENEMENT_CONFIG\`, or the working directory) exactly as \`ten serve\` would, with defaults filled in and paths made absolute, and prints a summary, or the whole resolved config with \`--json\`. Does not contact the server.

      On an invalid config prints the error (with its line) and exits 1.
    `,
    examples: [
      ['Check ./tenement.toml', '$0 config'],
      ['Check another file and print it as JSON', '$0 config --config /etc/tenement/tenement.toml --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the resolved config as JSON' });

  async perform(): Promise<void> {
    const { loadConfig } = await import('../../core/config.ts');
    const config = loadConfig({ path: this.config, cwd: process.cwd(), env: process.env });
    if (this.json) this.outJson(config);
    else this.context.stdout.write(summarizeConfig(config));
  }
}
