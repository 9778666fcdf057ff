import { Command, Option } from 'clipanion';
import { parseInstanceRef } from '../instance-ref.ts';
import { ApiCommand } from './base.ts';

export class StopCommand extends ApiCommand {
  static paths = [['stop']];
  static usage = Command.Usage({
    category: 'Instances',
    description: 'Stop an instance and remove it',
    details: `
      Sends the instance SIGTERM, waits up to the service's \`stop_timeout\` for it to exit (then SIGKILL), and removes it. Requests in flight are allowed to finish. To keep an instance but send it no traffic, use \`ten weight SERVICE:ID 0\` instead.
    `,
    examples: [
      ['Stop api:blue', '$0 stop api:blue'],
      ['The same, with --id', '$0 stop api --id blue'],
    ],
  });

  ref = Option.String({ name: 'service:id' });
  id = Option.String('--id', { description: 'Instance id (instead of service:id)' });
  json = Option.Boolean('--json', false, { description: 'Print the removed instance as JSON' });

  async perform(): Promise<void> {
    const ref = parseInstanceRef(this.ref, this.id);
    const inst = await this.client.stop(ref);
    if (this.json) this.outJson(inst);
    else this.out(`${inst.key ?? ref.key} stopped`);
  }
}
