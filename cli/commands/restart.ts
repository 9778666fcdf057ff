import { Command, Option } from 'clipanion';
import { parseInstanceRef } from '../instance-ref.ts';
import { ApiCommand } from './base.ts';

export class RestartCommand extends ApiCommand {
  static paths = [['restart']];
  static usage = Command.Usage({
    category: 'Instances',
    description: 'Restart an instance',
    details: `
      Stops the instance's process gracefully (draining in-flight requests) and starts a new one with the same id and weight, on a new port. A manual restart resets the crash budget (max_restarts) and is not counted in RESTARTS; a failed instance comes back this way. Returns once the new process is running, or its start failed.
    `,
    examples: [
      ['Restart api:v1', '$0 restart api:v1'],
      ['The same, with --id', '$0 restart api --id v1'],
    ],
  });

  ref = Option.String({ name: 'service:id' });
  id = Option.String('--id', { description: 'Instance id (instead of service:id)' });
  json = Option.Boolean('--json', false, { description: 'Print the instance as JSON' });

  async perform(): Promise<void> {
    const ref = parseInstanceRef(this.ref, this.id);
    const inst = await this.client.restart(ref);
    if (this.json) this.outJson(inst);
    else this.out(`${inst.key ?? ref.key} ${inst.state}`);
  }
}
