import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import { parseInteger, parseSeconds, parseVersionRef } from '../durations.ts';
import { parseWeight } from '../instance-ref.ts';
import { followAndReport } from '../progress.ts';
import type { OperationView } from '../../plugins/deploy-workflows/view.ts';
import { ApiCommand } from './base.ts';

const STRATEGIES = ['replace', 'rolling'] as const;

export class DeployCommand extends ApiCommand {
  static paths = [['deploy']];
  static usage = Command.Usage({
    category: 'Deploying',
    description: 'Deploy a new version of a service and wait until it is done',
    details: `
      Starts instance \`SERVICE:VERSION\`, waits until it is healthy (up to \`--timeout\`, default 30 s), then gives it \`--weight\` (default 100); the other instances keep their weights (then \`ten route\` for a full cutover, or deploy with \`--weight 0\` and \`ten rollout\` for a canary). Both \`api:v2\` and \`api --version v2\` name the same version; the version becomes the instance id, so it is a DNS label (a-z, 0-9, -). If the new version never becomes healthy it is stopped and nothing else changes.

      With \`--strategy rolling\` the old instances are replaced \`--batch\` at a time instead of all at once.

      Prints each step as it happens (a spinner on a terminal), then one summary line. Exits 1, with the reason, if the deploy failed. \`--json\` prints only the final operation.
    `,
    examples: [
      ['Deploy v2 of api', '$0 deploy api --version v2'],
      ['The same, in service:version form, giving it 2 minutes to become healthy', '$0 deploy api:v2 --timeout 2m'],
      ['Start v2 with 10% of the traffic', '$0 deploy api:v2 --weight 10'],
      ['Replace the old instances two at a time', '$0 deploy api:v2 --strategy rolling --batch 2'],
    ],
  });

  ref = Option.String({ name: 'service[:version]' });
  version = Option.String('--version', { description: 'Version to deploy, i.e. the new instance id (instead of service:version)' });
  weight = Option.String('--weight', { description: 'Weight of the new version once healthy, 0-100 (default: 100)' });
  timeout = Option.String('--timeout', { description: 'How long the new version may take to become healthy: 60, 60s, 2m (default: 30s)' });
  strategy = Option.String('--strategy', { description: 'replace (default): switch all at once; rolling: replace old instances --batch at a time' });
  batch = Option.String('--batch', { description: 'With --strategy rolling: instances replaced at a time (default: 1)' });
  json = Option.Boolean('--json', false, { description: 'Print only the final operation, as JSON' });

  async perform(): Promise<number> {
    const ref = parseVersionRef(this.ref, this.version);
    const body: Record<string, unknown> = { service: ref.service, version: ref.version };
    if (this.weight !== undefined) body.weight = parseWeight(this.weight);
    if (this.timeout !== undefined) body.timeout = parseSeconds(this.timeout, '--timeout');
    if (this.strategy !== undefined) {
      if (!(STRATEGIES as readonly string[]).includes(this.strategy)) {
        throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --strategy ${JSON.stringify(this.strategy)}: must be ${STRATEGIES.join(' or ')}`);
      }
      body.strategy = this.strategy;
    }
    if (this.batch !== undefined) {
      if (this.strategy !== 'rolling') throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', '--batch applies only to --strategy rolling');
      body.batch = parseInteger(this.batch, '--batch', 1);
    }
    const { operation } = await this.client.request<{ operation: OperationView }>('POST', '/api/workflows/deploy', body);
    return followAndReport(this.context, this.client, operation, this.json);
  }
}
