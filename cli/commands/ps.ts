import { Command, Option } from 'clipanion';
import { validateName } from '../instance-ref.ts';
import { formatPs } from '../table.ts';
import { ApiCommand } from './base.ts';

export class PsCommand extends ApiCommand {
  static paths = [['ps'], ['ls']];
  static usage = Command.Usage({
    category: 'Instances',
    description: 'List instances',
    details: `
      One row per instance: INSTANCE (service:id), SOCKET (the address the proxy forwards to), UPTIME, HEALTH, WEIGHT, STATE, PID and RESTARTS. UPTIME is \`-\` when the instance is not running. \`ten ls\` is the same command.

      \`--json\` prints the API's answer unchanged: \`{"instances": [...]}\`.
    `,
    examples: [
      ['List every instance', '$0 ps'],
      ['Only the instances of api', '$0 ps api'],
      ['As JSON, for scripts', '$0 ps --json'],
    ],
  });

  service = Option.String({ name: 'service', required: false });
  json = Option.Boolean('--json', false, { description: 'Print {"instances": [...]} as the API returned it' });

  async perform(): Promise<void> {
    if (this.service !== undefined) validateName('service', this.service);
    const res = await this.client.list(this.service);
    if (this.json) this.outJson(res);
    else this.context.stdout.write(formatPs(res.instances));
  }
}
