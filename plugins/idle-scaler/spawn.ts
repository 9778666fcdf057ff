// spawn_on_request, safe by default: which ids a request may create (spawn_ids), how many per
// client address (spawn_rate per spawn_rate_window), how many live at once (max_instances, making
// room by putting the least recently active request-made instance to sleep), how many held at
// all (max_spawned), and their expiry after spawn_expire_after without activity (stopped,
// removed from the registry and the store, data kept or removed). docs/plugins/idle-scaler.md.
import { rm } from 'node:fs/promises';
import { existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  instanceDataDir, spawnIdTest, TenementError, type InstanceInfo, type InstanceState, type PluginContext,
} from '../../core/index.ts';
import { RateTable } from './rate.ts';
import { SpawnLedger, type Mark } from './spawned.ts';

/** States that count against max_instances: the instance has (or is about to have) a process
 *  that serves. `stopping` is on its way out, `idle` is asleep (frozen ones too). */
const LIVE: ReadonlySet<InstanceState> = new Set(['starting', 'running', 'unhealthy', 'restarting']);
/** States in which an instance may expire: not on its way up or down. */
const SETTLED: ReadonlySet<InstanceState> = new Set(['running', 'unhealthy', 'idle', 'stopped', 'failed']);

export interface SpawnOptions {
  /** Client addresses tracked at once by the spawn_rate table. */
  max_clients: number;
  /** Request-made instances one service may hold at once, asleep or live. */
  max_spawned: number;
}

export class SpawnGuard {
  readonly ledger: SpawnLedger;
  readonly rates: RateTable;
  /** Compiled spawn_ids, per service config object (a reloaded config brings new objects). */
  private readonly idTests = new WeakMap<object, (id: string) => boolean>();
  /** Instances being expired (one expiry each). */
  private readonly expiring = new Set<string>();

  /** `busy(inst)`: requests wait for it or a wake of it is under way (never evicted or expired then). */
  constructor(private readonly ctx: PluginContext, private readonly opts: SpawnOptions, private readonly busy: (inst: InstanceInfo) => boolean) {
    this.ledger = new SpawnLedger(ctx.store);
    this.rates = new RateTable(opts.max_clients);
  }

  /**
   * Create `service:id` for a request from `client`, or throw: 404 TEN_ERR_SCALER_ID_NOT_ALLOWED
   * (spawn_ids), 429 TEN_ERR_SCALER_SPAWN_RATE / TEN_ERR_SCALER_SPAWN_CLIENTS (with retry_after),
   * 503 TEN_ERR_SCALER_SPAWN_FULL (max_spawned), 503 TEN_ERR_SCALER_MAX_INSTANCES. Checked in that
   * order; only a creation counts against the client's allowance.
   */
  create(svc: DeepReadonlyService, id: string, client: string): InstanceInfo {
    const service = svc.name;
    if (svc.spawn_ids !== undefined && !this.idTest(svc)(id)) throw new TenementError('TEN_ERR_SCALER_ID_NOT_ALLOWED', [`${service}:${id}`]);
    const rate = this.rates.check(service, client, svc.spawn_rate, svc.spawn_rate_window * 1000);
    if (!rate.ok && rate.why === 'rate') {
      throw new TenementError('TEN_ERR_SCALER_SPAWN_RATE', [client || 'this client', rate.count, service, svc.spawn_rate_window], { retry_after: Math.ceil(rate.retryAfter) });
    }
    if (!rate.ok) throw new TenementError('TEN_ERR_SCALER_SPAWN_CLIENTS', [this.opts.max_clients], { retry_after: Math.ceil(rate.retryAfter) });
    if (this.ledger.count(service) >= this.opts.max_spawned) throw new TenementError('TEN_ERR_SCALER_SPAWN_FULL', [service, this.opts.max_spawned]);
    this.makeRoom(svc);
    const inst = this.ctx.instances.create(service, id, svc.weight);
    this.ledger.add(inst);
    rate.commit();
    this.ctx.log.info({ instance: inst.key, client }, 'instance created on request (spawn_on_request)');
    this.ctx.emit({ kind: 'spawn', service, instance: id, message: `created on request from ${client || 'an unknown address'}`, fields: { client } });
    return inst;
  }

  /** `inst` is about to be woken (thawed or started): if a request made it, it must fit in max_instances. */
  beforeWake(inst: InstanceInfo): void {
    const svc = this.ctx.config.services[inst.service];
    if (svc && this.ledger.of(inst)) this.makeRoom(svc, inst);
  }

  /**
   * Room for one more live instance of the service under max_instances: when it has that many
   * live ones, the request-made instance that is running with nothing in flight or waiting and
   * was active least recently is put to sleep (stopped, its state `idle`; its next request wakes
   * it). None such: 503 TEN_ERR_SCALER_MAX_INSTANCES.
   */
  private makeRoom(svc: DeepReadonlyService, except?: InstanceInfo): void {
    const all = this.ctx.registry.list(svc.name);
    if (all.filter((i) => LIVE.has(i.state)).length < svc.max_instances) return;
    let victim: InstanceInfo | undefined;
    let victimAt = Infinity;
    for (const i of all) {
      if (i === except || i.state !== 'running' || i.inflight > 0 || this.busy(i)) continue;
      const m = this.ledger.of(i);
      if (m && this.ledger.lastActive(m) < victimAt) [victim, victimAt] = [i, this.ledger.lastActive(m)];
    }
    if (!victim) throw new TenementError('TEN_ERR_SCALER_MAX_INSTANCES', [svc.name, svc.max_instances], { retry_after: 1 });
    const reason = `evicted: ${svc.name} is at max_instances = ${svc.max_instances} live instances`;
    const v = victim;
    this.ctx.instances.stop(v, 'idle', reason).catch((err) => this.ctx.log.error({ err, instance: v.key }, 'could not evict instance'));
    this.ctx.log.info({ instance: v.key }, 'instance stopped (evicted: max_instances)');
    this.ctx.emit({ kind: 'sleep', service: v.service, instance: v.id, message: `stopped (${reason})`, fields: { action: 'evict' } });
  }

  /** Called on every transition: a request-made instance's last activity is stored at each. */
  onTransition(inst: InstanceInfo): void {
    const m = this.ledger.of(inst);
    if (m) this.ledger.touch(m);
  }

  /** The sweep: expire request-made instances inactive for their service's spawn_expire_after. */
  sweep(now = Date.now()): void {
    this.rates.prune(now);
    for (const m of this.ledger.list(this.ctx.registry)) {
      const inst = m.inst!;
      const svc = this.ctx.config.services[m.service];
      if (!svc || svc.spawn_expire_after <= 0 || this.expiring.has(inst.key)) continue;
      if (inst.inflight > 0 || this.busy(inst) || !SETTLED.has(inst.state)) continue;
      const idle = now - this.ledger.lastActive(m);
      if (idle >= svc.spawn_expire_after * 1000) void this.expire(m, inst, svc, idle);
    }
  }

  /** Stop `inst`, remove it (registry and store), its data folder kept or removed; an event and a log line. */
  private async expire(m: Mark, inst: InstanceInfo, svc: DeepReadonlyService, idleMs: number): Promise<void> {
    const { instances, registry, log } = this.ctx;
    const reason = `expired: no activity for ${svc.spawn_expire_after} s (spawn_expire_after)`;
    this.expiring.add(inst.key);
    try {
      await instances.stop(inst, 'stopped', reason);
      // a request or an admin got to it meanwhile: it is theirs
      if (registry.get(inst.service, inst.id) !== inst || inst.pid !== null || inst.state !== 'stopped' || this.busy(inst)) return;
      const data = svc.spawn_expire_data === 'remove' ? this.removeData(inst) : 'kept';
      instances.remove(inst);
      this.ledger.forget(m);
      const idle = Math.round(idleMs / 1000);
      log.info({ instance: inst.key, idle_seconds: idle, data }, 'instance expired (spawn_expire_after)');
      this.ctx.emit({
        kind: 'expire', service: inst.service, instance: inst.id,
        message: `removed after ${idle} s without activity (spawn_expire_after = ${svc.spawn_expire_after} s; data ${data})`,
        fields: { idle_seconds: idle, data },
      });
    } catch (err) {
      log.error({ err, instance: inst.key }, 'could not expire instance');
    } finally {
      this.expiring.delete(inst.key);
    }
  }

  /** Move the data folder aside at once (a new instance of the same id starts empty), delete it
   *  in the background. 'removed', or 'none' when it had none. */
  private removeData(inst: InstanceInfo): 'removed' | 'none' {
    const dir = instanceDataDir(this.ctx.config.settings.data_dir, inst);
    if (!existsSync(dir)) return 'none';
    // a name no instance id can have (ids are DNS labels: no dot)
    const aside = join(dirname(dir), `.expired-${inst.id}-${Date.now()}`);
    renameSync(dir, aside);
    rm(aside, { recursive: true, force: true }).catch((err) => this.ctx.log.error({ err, dir: aside }, 'could not remove an expired instance\'s data'));
    return 'removed';
  }

  private idTest(svc: DeepReadonlyService): (id: string) => boolean {
    let t = this.idTests.get(svc);
    if (!t) this.idTests.set(svc, t = spawnIdTest(svc.spawn_ids!));
    return t;
  }
}

type DeepReadonlyService = PluginContext['config']['services'][string];
