import { Command, Option } from 'clipanion';
import { parseInteger } from '../durations.ts';
import { validateName } from '../instance-ref.ts';
import { formatShadow } from '../table.ts';
import type { ShadowView } from '../../plugins/deploy-workflows/view.ts';
import { ApiCommand } from './base.ts';

function shadowPath(service: string): string {
  return `/api/workflows/shadow/${encodeURIComponent(service)}`;
}

export class ShadowCommand extends ApiCommand {
  static paths = [['shadow']];
  static usage = Command.Usage({
    category: 'Deploying',
    description: 'Mirror a share of a service\'s traffic to a new version',
    details: `
      Sends a copy of \`--percent\` of the requests to \`SERVICE\` (default 100) to instance \`SERVICE:TO\` as well, and compares the two answers: status codes and latency. Clients only ever get the answer of the regular instances; the shadow's answer is discarded. Watch the comparison with \`ten shadow status\`, end it with \`ten shadow stop\`.
    `,
    examples: [
      ['Mirror all api traffic to api:v2', '$0 shadow api --to v2'],
      ['Mirror 10% of it', '$0 shadow api --to v2 --percent 10'],
    ],
  });

  service = Option.String({ name: 'service' });
  to = Option.String('--to', { required: true, description: 'Instance id that receives the copies' });
  percent = Option.String('--percent', { description: 'Share of the requests to copy, 1-100 (default: 100)' });
  json = Option.Boolean('--json', false, { description: 'Print the shadow status as JSON' });

  async perform(): Promise<void> {
    validateName('service', this.service);
    validateName('instance id', this.to);
    const percent = this.percent === undefined ? undefined : parseInteger(this.percent, '--percent', 1, 100);
    const s = await this.client.request<ShadowView>('POST', '/api/workflows/shadow', {
      service: this.service, to: this.to, ...(percent === undefined ? {} : { percent }),
    });
    if (this.json) this.outJson(s);
    else this.out(`mirroring ${s.percent}% of ${s.service} requests to ${s.service}:${s.to}`);
  }
}

export class ShadowStatusCommand extends ApiCommand {
  static paths = [['shadow', 'status']];
  static usage = Command.Usage({
    category: 'Deploying',
    description: 'Show how the shadow of a service compares so far',
    details: `
      Prints the shadow of \`SERVICE\` (running or last stopped): requests mirrored and skipped, answers compared, status code mismatches, errors of the shadow, and the mean latency of the regular instances and of the shadow with their difference.
    `,
    examples: [
      ['Compare api:v2 with the live api', '$0 shadow status api'],
      ['As JSON', '$0 shadow status api --json'],
    ],
  });

  service = Option.String({ name: 'service' });
  json = Option.Boolean('--json', false, { description: 'Print the shadow status as JSON' });

  async perform(): Promise<void> {
    validateName('service', this.service);
    const s = await this.client.request<ShadowView>('GET', shadowPath(this.service));
    if (this.json) this.outJson(s);
    else this.context.stdout.write(formatShadow(s));
  }
}

export class ShadowStopCommand extends ApiCommand {
  static paths = [['shadow', 'stop']];
  static usage = Command.Usage({
    category: 'Deploying',
    description: 'Stop mirroring a service\'s traffic',
    details: `
      Stops copying requests to the shadow of \`SERVICE\` and prints the final comparison, as \`ten shadow status\` does. The shadow instance keeps running; stop it with \`ten stop\`.
    `,
    examples: [['Stop mirroring api', '$0 shadow stop api']],
  });

  service = Option.String({ name: 'service' });
  json = Option.Boolean('--json', false, { description: 'Print the final shadow status as JSON' });

  async perform(): Promise<void> {
    validateName('service', this.service);
    const s = await this.client.request<ShadowView>('DELETE', shadowPath(this.service));
    if (this.json) this.outJson(s);
    else this.context.stdout.write(`stopped mirroring ${s.service} to ${s.service}:${s.to}\n${formatShadow(s)}`);
  }
}
