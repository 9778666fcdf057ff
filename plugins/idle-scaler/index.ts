// idle-scaler (slot `scaler`, the default): scale to zero. Puts instances with no traffic for
// their service's idle_timeout to sleep (stopped, or frozen with idle_action = "suspend") and
// wakes them on the next request, which waits in a bounded queue; exactly one process is started
// however many requests arrive. The same queue holds direct requests for an instance that is
// starting or restarting after a crash.
import { WakeQueue } from './queue.ts';
import { sleepRoutes } from './routes.ts';
import { SpawnGuard } from './spawn.ts';
import { DNS_LABEL, TenementError, definePlugin, describeExit, type Instance, type InstanceState, type PluginContext } from '../../core/index.ts';

const NAME = 'idle-scaler';

interface IdleScalerOptions {
  /** Requests that may wait for one instance; more get 503 at once. */
  queue_size: number;
  /** Seconds a request waits for a waking instance before it gets 503 with Retry-After. */
  wait_timeout: number;
  /** Seconds between idle checks. */
  check_interval: number;
  /** Woken instance is ready when it accepts connections ("port") or also passes its health path ("health"). */
  ready: 'port' | 'health';
  /** Client addresses the spawn_rate table tracks at once (beyond: 429 for new addresses). */
  max_clients: number;
  /** Instances created by requests that one service may hold at once, asleep or live (beyond: 503). */
  max_spawned: number;
}

export default definePlugin<IdleScalerOptions>({
  name: NAME,
  provides: 'scaler',
  options: {
    properties: {
      queue_size: { type: 'integer', minimum: 1, default: 1000 },
      wait_timeout: { type: 'number', exclusiveMinimum: 0, default: 30 },
      check_interval: { type: 'number', exclusiveMinimum: 0, default: 0.5 },
      ready: { enum: ['port', 'health'], default: 'health' },
      max_clients: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000 },
      max_spawned: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000 },
    },
  },
  create(options) {
    let timer: NodeJS.Timeout | undefined;
    let queue: WakeQueue | undefined;
    return {
      apply(ctx) {
        const scaler = new IdleScaler(ctx, options);
        queue = scaler.queue;
        ctx.hooks.wake.tapPromise(NAME, (w) => scaler.wake(w.service, w.instanceId, w.client));
        ctx.hooks.transition.tap(NAME, (t) => scaler.onTransition(t.instance, t.to));
        ctx.hooks.ready.tap(NAME, () => {
          scaler.spawn.ledger.bind(ctx.registry, ctx.config);
          timer = setInterval(() => scaler.sweep(), options.check_interval * 1000);
          timer.unref();
        });
        ctx.http.register(sleepRoutes(ctx, (inst) => scaler.sleep(inst, 'put to sleep via API')));
      },
      dispose() {
        clearInterval(timer);
        queue?.releaseAll((key) => new TenementError('TEN_ERR_SCALER_WAKE_FAILED', [key, 'ten serve is shutting down']));
      },
    };
  },
});

class IdleScaler {
  readonly queue: WakeQueue;
  /** Starts in flight, one per instance: the single flight behind "one process per wake". */
  private readonly waking = new Set<string>();
  /** When each suspended instance was frozen (suspend_timeout counts from there). */
  private readonly frozenAt = new Map<string, number>();

  /** Creation on request and what bounds it: ids, rate per client, live and held instances, expiry. */
  readonly spawn: SpawnGuard;

  constructor(private readonly ctx: PluginContext, private readonly opts: IdleScalerOptions) {
    this.queue = new WakeQueue({ size: opts.queue_size, waitMs: opts.wait_timeout * 1000 });
    this.spawn = new SpawnGuard(ctx, opts, (i) => this.queue.size(i) > 0 || this.waking.has(i.key));
  }

  /** The wake hook: find (or, with spawn_on_request, create for `client`) the instance and wait for it. */
  async wake(service: string, instanceId: string | undefined, client: string): Promise<Instance | undefined> {
    const { registry, config } = this.ctx;
    const svc = config.services[service];
    let inst = instanceId === undefined ? this.sleeper(service) : registry.get(service, instanceId);
    if (!inst && instanceId !== undefined && svc.spawn_on_request && DNS_LABEL.test(instanceId)) {
      inst = this.spawn.create(svc, instanceId, client);
    }
    if (!inst) return undefined;
    if (inst.state === 'running' || inst.state === 'unhealthy') return inst;
    const fresh = inst.state === 'stopped' && inst.pid === null && inst.lastExit === null;
    if (inst.state === 'failed' || (inst.state === 'stopped' && !fresh)) return undefined;
    const wakes = (inst.state === 'idle' || fresh) && !this.waking.has(inst.key);
    if (wakes) this.spawn.beforeWake(inst); // may throw TEN_ERR_SCALER_MAX_INSTANCES: nothing queued yet
    const ready = this.queue.wait(inst);
    if (wakes) this.start(inst);
    return ready;
  }

  /** The instance a balanced request should wake: one already waking, else the highest weight. */
  private sleeper(service: string): Instance | undefined {
    let best: Instance | undefined;
    for (const i of this.ctx.registry.list(service)) {
      if (i.weight <= 0) continue;
      // one already on its way up, or on its way to sleep (it is woken as soon as it is idle)
      if (i.state === 'starting' || i.state === 'restarting' || i.state === 'stopping') return i;
      if (i.state === 'idle' && (!best || i.weight > best.weight)) best = i;
    }
    return best;
  }

  /** Wake `inst` unless a wake is already under way: thaw it, or start its process. */
  private start(inst: Instance): void {
    if (this.waking.has(inst.key)) return;
    this.waking.add(inst.key);
    this.wakeOnce(inst).catch((err) => this.ctx.log.error({ err, instance: inst.key }, 'wake failed'))
      .finally(() => {
        this.waking.delete(inst.key);
        // requests that arrived while a failed wake was being undone are the next try
        if (inst.state === 'idle' && this.queue.size(inst) > 0) this.start(inst);
      });
  }

  private async wakeOnce(inst: Instance): Promise<void> {
    const { instances, log } = this.ctx;
    const t0 = performance.now();
    if (inst.suspended !== null) {
      this.frozenAt.delete(inst.key);
      if (await instances.resume(inst, 'woken by a request')) { // thawed: running again
        this.woke(inst, 'ok', t0, 'thawed');
        return;
      }
    }
    if (inst.state !== 'idle' && inst.state !== 'stopped') return;
    const before = inst.lastExit;
    await instances.start(inst, 'woken by a request', { ready: this.opts.ready });
    if ((inst.state as string) === 'running') {
      log.info({ instance: inst.key, ms: Math.round(performance.now() - t0) }, 'instance woken');
      this.woke(inst, 'ok', t0, 'started');
      return;
    }
    const exit = inst.lastExit !== before ? inst.lastExit : null;
    // someone else took over (ten restart started a new attempt): its waiters wait on for it
    const now = inst.state as InstanceState; // changed while we awaited
    if (now === 'starting' || (now === 'restarting' && exit === null)) return;
    const why = exit ? describeExit(exit) : `it is ${inst.state}`;
    this.queue.release(inst, new TenementError('TEN_ERR_SCALER_WAKE_FAILED', [inst.key, why]));
    log.warn({ instance: inst.key, why }, 'wake failed: back to idle');
    this.woke(inst, 'failed', t0, why);
    if (inst.state !== 'idle') await instances.stop(inst, 'idle', `wake failed: ${why}`);
  }

  /** The `wake` event: result `ok` or `failed`, how long it took (the metrics' wake histogram). */
  private woke(inst: Instance, result: 'ok' | 'failed', t0: number, how: string): void {
    const seconds = (performance.now() - t0) / 1000;
    this.ctx.emit({
      kind: 'wake', service: inst.service, instance: inst.id,
      message: result === 'ok' ? `ok in ${Math.round(seconds * 1000)} ms (${how})` : `failed: ${how}`,
      fields: { result, duration_seconds: seconds },
    });
  }

  onTransition(inst: Instance, to: string): void {
    if (to === 'running') inst.lastRequestAt = Date.now(); // idle time counts from the start
    this.spawn.onTransition(inst);
    if (to === 'running') {
      this.queue.release(inst);
    } else if (to === 'failed' || to === 'stopped') {
      this.frozenAt.delete(inst.key);
      this.queue.release(inst, new TenementError('TEN_ERR_SCALER_WAKE_FAILED', [inst.key, `it is ${to}`]));
    } else if (to === 'idle' && this.queue.size(inst) > 0 && !this.waking.has(inst.key)) {
      this.start(inst); // requests arrived while it was being put to sleep
    }
  }

  /** Put instances with no traffic for their service's idle_timeout to sleep; stop instances
   *  frozen for longer than suspend_timeout; expire request-made ones (spawn.ts). */
  sweep(): void {
    const now = Date.now();
    this.spawn.sweep(now);
    const failed = (what: string, inst: Instance) => (err: unknown) => this.ctx.log.error({ err, instance: inst.key }, what);
    for (const inst of this.ctx.registry.list()) {
      const svc = this.ctx.config.services[inst.service];
      if (!svc) continue;
      const frozenAt = this.frozenAt.get(inst.key);
      if (inst.state === 'idle' && frozenAt !== undefined && svc.suspend_timeout > 0 && now - frozenAt >= svc.suspend_timeout * 1000) {
        this.frozenAt.delete(inst.key);
        this.ctx.instances.stop(inst, 'idle', `suspended for ${svc.suspend_timeout} s`).catch(failed('could not stop suspended instance', inst));
      } else if (svc.idle_timeout > 0 && inst.state === 'running' && inst.inflight === 0
        && now - inst.lastRequestAt >= svc.idle_timeout * 1000 && this.queue.size(inst) === 0) {
        this.sleep(inst, `no traffic for ${svc.idle_timeout} s`).catch(failed('could not put instance to sleep', inst));
      }
    }
  }

  /** Stop or freeze `inst` per its service's idle_action; it stays in the registry as `idle`. */
  async sleep(inst: Instance, reason: string): Promise<void> {
    const svc = this.ctx.config.services[inst.service];
    if (svc.idle_action === 'suspend') {
      this.frozenAt.set(inst.key, Date.now());
      const mechanism = await this.ctx.instances.suspend(inst, reason);
      this.ctx.log.info({ instance: inst.key, mechanism }, 'instance suspended');
      this.ctx.emit({ kind: 'sleep', service: inst.service, instance: inst.id, message: `suspended with ${mechanism} (${reason})`, fields: { action: 'suspend' } });
    } else {
      await this.ctx.instances.stop(inst, 'idle', reason);
      this.ctx.log.info({ instance: inst.key }, 'instance stopped (idle)');
      this.ctx.emit({ kind: 'sleep', service: inst.service, instance: inst.id, message: `stopped (${reason})`, fields: { action: 'stop' } });
    }
  }
}
