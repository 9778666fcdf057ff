import { Command, Option } from 'clipanion';
import { parseMilliseconds, parseRatio, parseSeconds, parseSteps } from '../durations.ts';
import { validateName } from '../instance-ref.ts';
import { followAndReport } from '../progress.ts';
import { formatOperation, formatOperationSummary } from '../table.ts';
import type { OperationView } from '../../plugins/deploy-workflows/view.ts';
import { ApiCommand } from './base.ts';

function rolloutPath(service: string, action = ''): string {
  return `/api/workflows/rollout/${encodeURIComponent(service)}${action}`;
}

export class RolloutCommand extends ApiCommand {
  static paths = [['rollout']];
  static usage = Command.Usage({
    category: 'Deploying',
    description: 'Shift traffic to a new version step by step, rolling back on errors',
    details: `
      Gives \`SERVICE:TO\` the traffic shares of \`--steps\` in turn, in percent, for \`--interval\` each; if it is not running yet it is deployed first at weight 0 (healthy within \`--timeout\`). The other instances share the rest in proportion to their weights before the rollout. During every step, every 250 ms, the new version's 5xx rate and p99 latency (from the proxy's own counters, once it has 20 requests in the step) are compared with \`--max-error-rate\` (a fraction, 0.01 = 1%, the default) and \`--max-p99\`, and with the other instances: worse than both, or not running any more, and the rollout rolls back at once — the new version to 0, the others to their weights.

      Steps are whole numbers from 1 to 100, strictly increasing. Durations take a unit: \`500ms\`, \`30s\`, \`2m\`; a bare number is seconds for \`--interval\` and \`--timeout\`, milliseconds for \`--max-p99\`.

      Prints each step as it happens (a spinner on a terminal) and exits 1, with the reason, if the rollout was rolled back, failed or was aborted. Stopping this command does not stop the rollout: see \`ten rollout status\` and \`ten rollout abort\`.
    `,
    examples: [
      ['Canary api:v2 at 5%, 25%, 50%, then 100%, 30 s per step', '$0 rollout api --to v2 --steps 5,25,50,100 --interval 30s'],
      ['Roll back if more than 1% of requests fail or p99 exceeds 500 ms', '$0 rollout api --to v2 --steps 10,50,100 --interval 1m --max-error-rate 0.01 --max-p99 500ms'],
    ],
  });

  service = Option.String({ name: 'service' });
  to = Option.String('--to', { required: true, description: 'Instance id of the new version' });
  steps = Option.String('--steps', { required: true, description: 'Traffic percentages of the new version, e.g. 5,25,50,100' });
  interval = Option.String('--interval', { required: true, description: 'Time at each step: 30s, 500ms, 1m (bare number: seconds)' });
  maxErrorRate = Option.String('--max-error-rate', { description: 'Roll back above this fraction of failed requests, 0-1 (e.g. 0.01)' });
  maxP99 = Option.String('--max-p99', { description: 'Roll back above this p99 latency: 500ms, 1s (bare number: milliseconds)' });
  timeout = Option.String('--timeout', { description: 'How long --to may take to be healthy before the first step: 60, 60s, 2m' });
  json = Option.Boolean('--json', false, { description: 'Print only the final operation, as JSON' });

  async perform(): Promise<number> {
    validateName('service', this.service);
    validateName('instance id', this.to);
    const body: Record<string, unknown> = {
      service: this.service,
      to: this.to,
      steps: parseSteps(this.steps),
      interval: parseSeconds(this.interval, '--interval'),
    };
    if (this.maxErrorRate !== undefined) body.max_error_rate = parseRatio(this.maxErrorRate, '--max-error-rate');
    if (this.maxP99 !== undefined) body.max_p99_ms = parseMilliseconds(this.maxP99, '--max-p99');
    if (this.timeout !== undefined) body.timeout = parseSeconds(this.timeout, '--timeout');
    const { operation } = await this.client.request<{ operation: OperationView }>('POST', '/api/workflows/rollout', body);
    return followAndReport(this.context, this.client, operation, this.json);
  }
}

export class RolloutStatusCommand extends ApiCommand {
  static paths = [['rollout', 'status']];
  static usage = Command.Usage({
    category: 'Deploying',
    description: 'Show the latest rollout of a service',
    details: `
      Prints the latest rollout of \`SERVICE\`, running or finished: its target, status, plan, current step (while it runs), every step so far with its time, and the error if it did not succeed. Fails with \`TEN_ERR_WORKFLOW_NOT_FOUND\` if the service never had one.
    `,
    examples: [
      ['How is the rollout of api going?', '$0 rollout status api'],
      ['As JSON', '$0 rollout status api --json'],
    ],
  });

  service = Option.String({ name: 'service' });
  json = Option.Boolean('--json', false, { description: 'Print the operation as JSON' });

  async perform(): Promise<void> {
    validateName('service', this.service);
    const op = await this.client.request<OperationView>('GET', rolloutPath(this.service));
    if (this.json) this.outJson(op);
    else this.context.stdout.write(formatOperation(op));
  }
}

export class RolloutAbortCommand extends ApiCommand {
  static paths = [['rollout', 'abort']];
  static usage = Command.Usage({
    category: 'Deploying',
    description: 'Abort the running rollout of a service',
    details: `
      Stops the rollout of \`SERVICE\` that is in progress and sends all traffic back to the other instances. The new version keeps running, with weight 0.
    `,
    examples: [['Abort the rollout of api', '$0 rollout abort api']],
  });

  service = Option.String({ name: 'service' });
  json = Option.Boolean('--json', false, { description: 'Print the operation as JSON' });

  async perform(): Promise<void> {
    validateName('service', this.service);
    const op = await this.client.request<OperationView>('POST', rolloutPath(this.service, '/abort'));
    if (this.json) this.outJson(op);
    else this.out(formatOperationSummary(op));
  }
}
