// What every workflow shares: one running operation per service, starting an instance and
// waiting (bounded) for it to be healthy, removing one, and weight changes recorded as history.
import { Journal, type Operation, type OpKind } from './journal.ts';
import { TenementError, describeExit, type Instance, type PluginContext } from '../../core/index.ts';

export class Engine {
  readonly journal: Journal;
  /** service → its running operation. */
  private readonly busy = new Map<string, Operation>();
  /** Set while a workflow changes weights itself (its own history entries say more). */
  private ownChange = false;
  readonly aborts = new Set<number>();
  /** ten serve is shutting down: running operations stop where they are and resume (rollouts)
   *  or are reported interrupted at the next boot, instead of taking the shutdown for a failure. */
  closing = false;

  constructor(readonly ctx: PluginContext) {
    // each operation's end is an event: `deploy.outcome`, `rollout.outcome`, `rolling.outcome`
    this.journal = new Journal(ctx.store, (op) => ctx.emit({
      kind: `${op.kind}.outcome`, service: op.service, message: `${op.status}${op.error ? `: ${op.error.message}` : ''}`,
      fields: { outcome: op.status, operation: op.id },
    }));
    ctx.hooks.weights.tap('deploy-workflows', (changes, reason) => {
      if (this.ownChange) return;
      for (const c of changes) {
        this.journal.record(c.instance.service, 'weight', 'ok', `${c.instance.key} weight ${c.from} → ${c.to} (${reason})`,
          { instance: c.instance.id, from: c.from, to: c.to });
      }
    });
  }

  /** Begin an operation on `service`, or TEN_ERR_WORKFLOW_BUSY if one is running. */
  begin(kind: OpKind, service: string, params: Record<string, unknown>): Operation {
    const running = this.busy.get(service);
    if (running) throw new TenementError('TEN_ERR_WORKFLOW_BUSY', [running.kind, service]);
    const op = this.journal.create(kind, service, params);
    this.busy.set(service, op);
    return op;
  }

  /** Adopt an operation a previous ten serve left running. */
  adopt(op: Operation): void {
    this.busy.set(op.service, op);
  }

  end(op: Operation): void {
    if (this.busy.get(op.service) === op) this.busy.delete(op.service);
    this.aborts.delete(op.id);
  }

  running(service: string): Operation | undefined {
    return this.busy.get(service);
  }

  /** Record a step of `op` in its journal, the log and the event stream (`<kind>.step`, with
   *  `fields` such as a rollout's step number and canary weight). */
  step(op: Operation, message: string, fields?: Record<string, number | string>): void {
    this.journal.step(op, message);
    this.ctx.log.info({ op: op.id, kind: op.kind, service: op.service }, message);
    this.ctx.emit({ kind: `${op.kind}.step`, service: op.service, message, fields: { operation: op.id, ...fields } });
  }

  /** Change weights as one registry step, without a duplicate 'weight' history entry. */
  setWeights(changes: Array<readonly [Instance, number]>, reason: string): void {
    this.ownChange = true;
    try { this.ctx.instances.setWeights(changes, reason); } finally { this.ownChange = false; }
  }

  /**
   * Create `service:id` at weight 0, start it and wait until it is running and healthy, at most
   * `timeoutS`. On failure it is stopped and removed and a TenementError says why.
   */
  async launch(service: string, id: string, timeoutS: number): Promise<Instance> {
    const { instances } = this.ctx;
    const inst = instances.create(service, id, 0);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeoutS * 1000); });
    const lastExit = inst.lastExit;
    const outcome = await Promise.race([instances.start(inst, 'deploy').then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'done' && inst.state === 'running' && inst.health === 'healthy') return inst;
    const exit = inst.lastExit !== lastExit ? inst.lastExit : null;
    const why = exit ? describeExit(exit) : `it is ${inst.state}`;
    await this.remove(inst, 'deploy failed');
    throw outcome === 'timeout'
      ? new TenementError('TEN_ERR_WORKFLOW_TIMEOUT', [inst.key, timeoutS])
      : new TenementError('TEN_ERR_WORKFLOW_UNHEALTHY', [inst.key, why]);
  }

  /** Drain, stop and forget an instance. */
  async remove(inst: Instance, reason: string): Promise<void> {
    await this.ctx.instances.stop(inst, 'stopped', reason);
    if (this.ctx.registry.get(inst.service, inst.id) === inst) this.ctx.instances.remove(inst);
  }
}

/** A TenementError for `err`; anything else is a bug, logged with its cause. */
export function asError(err: unknown, e?: Engine): TenementError {
  if (err instanceof TenementError) return err;
  e?.ctx.log.error({ err }, 'workflow failed unexpectedly');
  return new TenementError('TEN_ERR_API_INTERNAL', [], {}, err);
}
