import { Command, Option } from 'clipanion';
import { parseInstanceRef, parseWeight } from '../instance-ref.ts';
import { ApiCommand } from './base.ts';

export class WeightCommand extends ApiCommand {
  static paths = [['weight']];
  static usage = Command.Usage({
    category: 'Instances',
    description: 'Set the traffic weight of an instance (0-100)',
    details: `
      Requests to \`SERVICE.DOMAIN\` are spread over the service's running instances in proportion to their weights. Weight 0 takes an instance out of balancing but keeps it running; \`ID.SERVICE.DOMAIN\` still reaches it directly. The change applies to the next request.
    `,
    examples: [
      ['Send 20% of api traffic to the canary', '$0 weight api:v2 20'],
      ['Blue-green cutover', '$0 weight api:blue 0 && $0 weight api:green 100'],
    ],
  });

  ref = Option.String({ name: 'service:id' });
  weight = Option.String({ name: '0-100' });
  id = Option.String('--id', { description: 'Instance id (instead of service:id)' });
  json = Option.Boolean('--json', false, { description: 'Print the instance as JSON' });

  async perform(): Promise<void> {
    const ref = parseInstanceRef(this.ref, this.id);
    const weight = parseWeight(this.weight);
    const inst = await this.client.setWeight(ref, weight);
    if (this.json) this.outJson(inst);
    else this.out(`${inst.key ?? ref.key} weight ${inst.weight}`);
  }
}
