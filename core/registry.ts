// The registry: every instance tenement knows, its weight and its state. Weights and membership
// are persisted through the store; state changes go through lifecycle.transition() only.
import type { Hooks } from './hooks.ts';
import { transition } from './lifecycle.ts';
import type { Store } from './store.ts';
import { DNS_LABEL } from './config-schema.ts';
import { TenementError } from './errors.ts';
import type { Instance, InstanceState } from './types.ts';

export { DNS_LABEL };

export function assertName(kind: 'service' | 'id', value: string): void {
  if (typeof value !== 'string' || !DNS_LABEL.test(value)) {
    throw new TenementError('TEN_ERR_API_INVALID_NAME', [kind, JSON.stringify(value)]);
  }
}

export function assertWeight(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
    throw new TenementError('TEN_ERR_API_INVALID_WEIGHT', [JSON.stringify(value)]);
  }
}

export class Registry {
  private readonly byKey = new Map<string, Instance>();
  /** Each service's instances in creation order: lookups never scan other services. */
  private readonly byService = new Map<string, Instance[]>();
  /** Per service, the instances that may take balanced traffic (running, weight > 0), rebuilt
   *  only when a state, a weight or the membership of that service changes. */
  private readonly routableCache = new Map<string, readonly Instance[]>();

  constructor(private readonly hooks: Hooks, private readonly store: Store) {}

  get(service: string, id: string): Instance | undefined {
    return this.byKey.get(`${service}:${id}`);
  }

  /** Like get(), but a missing instance is a TEN_ERR_INSTANCE_NOT_FOUND. */
  require(service: string, id: string): Instance {
    const inst = this.get(service, id);
    if (!inst) throw new TenementError('TEN_ERR_INSTANCE_NOT_FOUND', [`${service}:${id}`]);
    return inst;
  }

  /** All instances, or one service's, in creation order (a copy the caller may change). */
  list(service?: string): Instance[] {
    if (service === undefined) return [...this.byKey.values()];
    return [...(this.byService.get(service) ?? [])];
  }

  /** A service's instances that are running with a weight above 0, in creation order: the
   *  balanced route's candidates. Frozen and cached (the hot path allocates nothing here). */
  routable(service: string): readonly Instance[] {
    let r = this.routableCache.get(service);
    if (r === undefined) {
      r = Object.freeze((this.byService.get(service) ?? []).filter((i) => i.state === 'running' && i.weight > 0));
      this.routableCache.set(service, r);
    }
    return r;
  }

  /** Add a new instance in state `stopped` and persist it. */
  create(service: string, id: string, weight: number, persist = true): Instance {
    assertName('service', service);
    assertName('id', id);
    assertWeight(weight);
    const key = `${service}:${id}`;
    if (this.byKey.has(key)) throw new TenementError('TEN_ERR_INSTANCE_EXISTS', [key]);
    const inst: Instance = {
      service, id, key, state: 'stopped', weight, health: 'unknown', port: null, socket: null, pid: null,
      startedAt: null, restartTimes: [], restarts: 0, inflight: 0, ejectedUntil: 0, lastExit: null,
      lastRequestAt: 0, suspended: null,
    };
    if (persist) this.store.putInstance(service, id, weight);
    this.byKey.set(key, inst);
    let list = this.byService.get(service);
    if (!list) this.byService.set(service, list = []);
    list.push(inst);
    this.routableCache.delete(service);
    return inst;
  }

  /** Forget an instance (it must not be running any more), and delete it from the store unless
   *  `keepStored` (a reload that removes its service keeps it for when the service returns). */
  remove(inst: Instance, keepStored = false): void {
    this.byKey.delete(inst.key);
    const list = this.byService.get(inst.service);
    const at = list?.indexOf(inst) ?? -1;
    if (at >= 0) list!.splice(at, 1);
    this.routableCache.delete(inst.service);
    if (!keepStored) this.store.deleteInstance(inst.service, inst.id);
  }

  setWeight(inst: Instance, weight: number, reason = 'weight set'): void {
    this.setWeights([[inst, weight]], reason);
  }

  /**
   * Change several weights as one step (all instances must still be registered): validated first, persisted in one transaction, applied in
   * memory in one synchronous block (no request sees half of it), then hooks.weights fires.
   */
  setWeights(changes: ReadonlyArray<readonly [Instance, number]>, reason: string): void {
    for (const [, w] of changes) assertWeight(w);
    for (const [i] of changes) {
      if (this.byKey.get(i.key) !== i) throw new TenementError('TEN_ERR_INSTANCE_NOT_FOUND', [i.key]);
    }
    this.store.putWeights(changes.map(([i, w]) => [i.service, i.id, w] as const));
    const done = changes.filter(([i, w]) => i.weight !== w).map(([instance, to]) => ({ instance, from: instance.weight, to }));
    for (const [i, w] of changes) {
      i.weight = w;
      this.routableCache.delete(i.service);
    }
    if (done.length > 0) this.hooks.weights.call(done, reason);
  }

  /** The only way to change an instance's state (see lifecycle.ts). */
  transition(inst: Instance, to: InstanceState, reason: string): boolean {
    this.routableCache.delete(inst.service);
    return transition(this.hooks, inst, to, reason);
  }
}
