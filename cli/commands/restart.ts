import { Command, Option } from 'clipanion';
import { parseInstanceRef } from '../instance-ref.ts';
import { ApiCommand } from './base.ts';

export class RestartCommand extends ApiCommand {
  static paths = [['restart']];
  static usage = Command.Usage({
    description: 'Restart an instance',
    details: `
      Stops the instance's process gracefully and starts a new one with the same id, port and weight. Its restart counter goes up by one. Returns once the server has begun the restart; check progress with \`ten ps\`.
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
