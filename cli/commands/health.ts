import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import { parseInstanceRef } from '../instance-ref.ts';
import { formatHealth } from '../table.ts';
import type { HealthView, InstanceView } from '../../core/view.ts';
import { ApiCommand } from './base.ts';

/** States with no process by design: probing them would only report a false failure. */
const NOT_PROBED = new Set(['stopped', 'stopping', 'idle']);

export class HealthCommand extends ApiCommand {
  static paths = [['health']];
  static usage = Command.Usage({
    category: 'Instances',
    description: 'Probe the health of one instance, or of all',
    details: `
      Runs a health probe now (the service's \`health\` path, or a TCP connect when it has none) and prints INSTANCE HEALTH DETAIL LATENCY. With no argument every instance is probed, except stopped and idle ones.

      Exits 1 if any probe failed.
    `,
    examples: [
      ['Probe every instance', '$0 health'],
      ['Probe api:v1 only', '$0 health api:v1'],
      ['As JSON', '$0 health --json'],
    ],
  });

  ref = Option.String({ name: 'service:id', required: false });
  id = Option.String('--id', { description: 'Instance id (instead of service:id)' });
  json = Option.Boolean('--json', false, { description: 'Print {"results": [{instance, probe}, ...]}' });

  async perform(): Promise<number> {
    let rows: Array<{ instance: InstanceView; result: HealthView | null }>;
    if (this.ref === undefined && this.id !== undefined) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', '--id needs a service: ten health SERVICE --id ID');
    if (this.ref !== undefined) {
      const result = await this.client.probe(parseInstanceRef(this.ref, this.id));
      rows = [{ instance: result.instance, result }];
    } else {
      const { instances } = await this.client.list();
      rows = await Promise.all(
        instances.map(async (instance) => ({
          instance,
          result: NOT_PROBED.has(instance.state) ? null : await this.client.probe({ service: instance.service, id: instance.id, key: instance.key }),
        })),
      );
    }
    if (this.json) this.outJson({ results: rows.flatMap((r) => (r.result ? [r.result] : [])) });
    else this.context.stdout.write(formatHealth(rows));
    return rows.some((r) => r.result && !r.result.probe.ok) ? 1 : 0;
  }
}
