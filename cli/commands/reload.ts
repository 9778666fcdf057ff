import { Command, Option } from 'clipanion';
import type { ReloadReport } from '../../core/types.ts';
import { ApiCommand } from './base.ts';

/** What `ten reload` prints: one line per kind of change, then the warnings. */
export function formatReload(r: ReloadReport): string {
  if (!r.changed) return `no change: ${r.file} says what is in force\n`;
  const lines = [`reloaded ${r.file}`];
  const row = (label: string, items: string[]) => { if (items.length > 0) lines.push(`${label.padEnd(11)}${items.join(', ')}`); };
  row('added', r.services.added);
  row('removed', r.services.removed.map((s) => `${s} (instances kept in the store)`));
  for (const c of r.services.changed) {
    const parts = [
      ...(c.restart.length > 0 ? [`${c.restart.join(', ')}: instances restarted`] : []),
      ...(c.live.length > 0 ? [`${c.live.join(', ')}: applied in place`] : []),
    ];
    row('changed', [`${c.service} (${parts.join('; ')})`]);
  }
  row('started', r.instances.started);
  row('restarted', r.instances.restarted);
  row('stopped', r.instances.stopped.map((k) => `${k} (was suspended; starts anew on its next request)`));
  row('gone', r.instances.removed);
  row('settings', r.settings.applied.map((k) => `${k} applied`));
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}

export class ReloadCommand extends ApiCommand {
  static paths = [['reload']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Make ten serve re-read its tenement.toml and apply what changed',
    details: `
      Asks ten serve (POST /api/reload; sending it SIGHUP does the same) to read again the tenement.toml it was started with, check it as \`ten config\` does, and apply the difference: added services' instances are started, removed services' instances are stopped (the store keeps them for when the service comes back), changed services' instances are restarted one at a time (each running and healthy before the next) when a key their process is started with changed, and the other changes apply in place. Instances of unchanged services are not touched. The file read is always the one ten serve was started with (\`--config\` here only says where to find the API token). Keys that need a restart of ten serve (listen, port, domain, data_dir, the listener's limits, plugin tables) are reported and keep their value until then. docs/configuration.md says how each key applies.

      A config with errors changes nothing: every error is printed with its key and line (TEN_ERR_RELOAD_INVALID) and the exit code is 1. The exit code is 1 as well when an instance did not come back after the reload (the new config is in force nonetheless). Waits up to 15 minutes for the restarts.
    `,
    examples: [
      ['Apply the edited tenement.toml', '$0 reload'],
      ['The report as JSON', '$0 reload --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the report as JSON' });

  async perform(): Promise<number> {
    const report = await this.client.reload();
    if (this.json) this.outJson(report);
    else this.context.stdout.write(formatReload(report));
    return report.instances.failed.length > 0 ? 1 : 0;
  }
}
