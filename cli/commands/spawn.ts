import { Command, Option } from 'clipanion';
import { TenementError } from '../../core/errors.ts';
import { sleep } from '../../core/wait.ts';
import { parseInstanceRef, parseWeight, type InstanceRef } from '../instance-ref.ts';
import type { InstanceView } from '../../core/view.ts';
import { ApiCommand } from './base.ts';

/** States that end the wait: the instance is up, or it will not come up by itself. */
const SETTLED = new Set(['running', 'failed', 'stopped', 'idle']);
const WAIT_MS = 60_000;
const POLL_MS = 250;

export function describe(i: InstanceView): string {
  if (i.state === 'running') return `${i.key} running on ${i.socket ?? `port ${i.port ?? '?'}`} (pid ${i.pid ?? '?'})`;
  const exit = i.last_exit ? ` (last exit: ${i.last_exit.reason ?? i.last_exit.signal ?? `code ${i.last_exit.code}`})` : '';
  return `${i.key} ${i.state}${exit}`;
}

export class SpawnCommand extends ApiCommand {
  static paths = [['spawn']];
  static usage = Command.Usage({
    category: 'Instances',
    description: 'Start a new instance of a service',
    details: `
      Starts instance \`ID\` of \`SERVICE\` (a service defined in tenement.toml) and waits until it is running: up to 60 s, or not at all with \`--no-wait\`. Both \`api:green\` and \`api --id green\` name the same instance. Service names and ids are DNS labels (a-z, 0-9, -).

      Exits 1 if the instance failed to start or was not running after 60 s.
    `,
    examples: [
      ['Start api:green and wait until it runs', '$0 spawn api --id green'],
      ['The same, in service:id form, with no traffic yet', '$0 spawn api:green --weight 0'],
      ['Start it without waiting', '$0 spawn api:green --no-wait'],
    ],
  });

  ref = Option.String({ name: 'service[:id]' });
  id = Option.String('--id', { description: 'Instance id (instead of service:id)' });
  weight = Option.String('--weight', { description: 'Initial weight, 0-100 (default: the service\'s weight)' });
  wait = Option.Boolean('--wait', true, { description: 'Return at once instead of waiting until the instance is running' });
  json = Option.Boolean('--json', false, { description: 'Print the instance as JSON' });

  async perform(): Promise<number> {
    const ref = parseInstanceRef(this.ref, this.id);
    const weight = this.weight === undefined ? undefined : parseWeight(this.weight);
    let inst = await this.client.spawn(ref, weight);
    if (this.wait) inst = await this.waitSettled(ref, inst);
    if (this.json) this.outJson(inst);
    else if (!this.wait || inst.state === 'running') this.out(describe(inst));
    if (!this.wait || inst.state === 'running') return 0;
    const why = SETTLED.has(inst.state) ? describe(inst).slice(inst.key.length + 1) : `still ${inst.state} after ${WAIT_MS / 1000} s`;
    throw new TenementError('TEN_ERR_INSTANCE_SPAWN_FAILED', [inst.key, why]);
  }

  private async waitSettled(ref: InstanceRef, first: InstanceView): Promise<InstanceView> {
    const deadline = Date.now() + WAIT_MS;
    let inst = first;
    while (!SETTLED.has(inst.state) && Date.now() < deadline) {
      await sleep(POLL_MS);
      inst = await this.client.get(ref);
    }
    return inst;
  }
}
