import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import { validateName } from '../instance-ref.ts';
import { formatWeights } from '../table.ts';
import type { RouteView } from '../../plugins/deploy-workflows/view.ts';
import { ApiCommand } from './base.ts';

export class RouteCommand extends ApiCommand {
  static paths = [['route']];
  static usage = Command.Usage({
    category: 'Deploying',
    description: 'Switch all traffic of a service from one version to another',
    details: `
      Moves the traffic of \`SERVICE:FROM\` to \`SERVICE:TO\` in one step (a blue-green cutover): \`FROM\` ends with weight 0 but keeps running, so switching back is another \`ten route\`. Refuses (\`TEN_ERR_WORKFLOW_NOT_HEALTHY\`) if \`TO\` is not running and healthy, unless \`--force\`.

      Prints the service's weights afterwards, one instance per line.
    `,
    examples: [
      ['Cut api over from blue to green', '$0 route api --from blue --to green'],
      ['Switch back', '$0 route api --from green --to blue'],
      ['Switch even though green is not healthy yet', '$0 route api --from blue --to green --force'],
    ],
  });

  service = Option.String({ name: 'service' });
  from = Option.String('--from', { required: true, description: 'Instance id that loses its traffic' });
  to = Option.String('--to', { required: true, description: 'Instance id that gets it' });
  force = Option.Boolean('--force', false, { description: 'Switch even if --to is not healthy' });
  json = Option.Boolean('--json', false, { description: 'Print {"service", "weights": {id: weight}} as JSON' });

  async perform(): Promise<void> {
    validateName('service', this.service);
    validateName('instance id', this.from);
    validateName('instance id', this.to);
    if (this.from === this.to) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `--from and --to are both ${JSON.stringify(this.to)}`);
    const res = await this.client.request<RouteView>('POST', '/api/workflows/route', {
      service: this.service, from: this.from, to: this.to, ...(this.force ? { force: true } : {}),
    });
    if (this.json) this.outJson(res);
    else this.context.stdout.write(formatWeights(res));
  }
}
