import { Command, Option } from 'clipanion';
import { parseInteger } from '../durations.ts';
import { validateName } from '../instance-ref.ts';
import { formatHistory } from '../table.ts';
import type { HistoryEntryView } from '../../plugins/deploy-workflows/view.ts';
import { ApiCommand } from './base.ts';

export class HistoryCommand extends ApiCommand {
  static paths = [['history']];
  static usage = Command.Usage({
    category: 'Deploying',
    description: 'List past deploys, routing changes, rollouts and shadows',
    details: `
      One row per event, oldest first and newest last: TIME (local time), SERVICE, KIND (\`deploy\`, \`rolling\`, \`route\`, \`weight\`, \`rollout\`, \`rollout-step\`, \`rollback\`, \`shadow\`), OUTCOME (\`ok\`, \`failed\`, \`rolled-back\`, \`aborted\`) and DETAIL. \`--limit\` keeps only the N latest events.

      \`--json\` prints the API's answer unchanged: \`{"entries": [...]}\`.
    `,
    examples: [
      ['Everything that happened lately', '$0 history'],
      ['The last 10 events of api', '$0 history api --limit 10'],
    ],
  });

  service = Option.String({ name: 'service', required: false });
  limit = Option.String('--limit', { description: 'Show only the N latest events' });
  json = Option.Boolean('--json', false, { description: 'Print {"entries": [...]} as the API returned it' });

  async perform(): Promise<void> {
    if (this.service !== undefined) validateName('service', this.service);
    const limit = this.limit === undefined ? undefined : parseInteger(this.limit, '--limit', 1);
    const query = new URLSearchParams();
    if (this.service !== undefined) query.set('service', this.service);
    if (limit !== undefined) query.set('limit', String(limit));
    const qs = query.toString();
    const res = await this.client.request<{ entries: HistoryEntryView[] }>('GET', `/api/workflows/history${qs ? `?${qs}` : ''}`);
    if (this.json) this.outJson(res);
    else this.context.stdout.write(formatHistory(res.entries));
  }
}
