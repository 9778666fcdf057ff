// Health probing: schedules one probe at a time per live instance, counts consecutive results
// against the thresholds and moves running ⇄ unhealthy. The probe itself is the `probe` hook;
// core taps the default (HTTP GET of the service's health path, else a TCP connect) at stage 100.
import type { Logger } from 'pino';
import { CORE_TAP, STAGE, type Hooks } from './hooks.ts';
import { canConnect, httpGet, instanceAddress } from './net.ts';
import type { Registry } from './registry.ts';
import type { Instance, ProbeResult, TenementConfig } from './types.ts';


export interface HealthDeps {
  /** The config in force, read at each use (a reload replaces it: core/live-config.ts). */
  readonly config: TenementConfig;
  registry: Registry;
  hooks: Hooks;
  log: Logger;
  onUnhealthy(inst: Instance, detail: string): void;
}

/** The default probe: healthy = HTTP status 2xx/3xx on the health path, or a TCP connect. */
async function defaultProbe(inst: Instance, health: string | undefined, timeoutMs: number): Promise<ProbeResult> {
  const t0 = performance.now();
  const latency = () => Math.round((performance.now() - t0) * 10) / 10;
  const addr = instanceAddress(inst);
  if (addr === undefined) return { ok: false, detail: 'no process', latencyMs: 0 };
  if (health === undefined) {
    const ok = await canConnect(addr, timeoutMs);
    const what = addr.socketPath === undefined ? 'TCP connect' : 'socket connect';
    return { ok, detail: ok ? what : `${what} failed`, latencyMs: latency() };
  }
  const r = await httpGet(addr, health, timeoutMs);
  if (r.status === undefined) return { ok: false, detail: r.error ?? 'error', latencyMs: latency() };
  return { ok: r.status >= 200 && r.status < 400, detail: `HTTP ${r.status}`, latencyMs: latency() };
}

export class HealthChecker {
  /** One probe loop per instance; a loop that is no longer in the map stops at its next step. */
  private readonly loops = new Map<string, { timer: NodeJS.Timeout | undefined }>();
  private readonly streak = new Map<string, { ok: number; fail: number }>();
  private stopped = false;

  constructor(private readonly d: HealthDeps) {
    const { hooks } = d;
    hooks.probe.tapPromise({ name: CORE_TAP, stage: STAGE.core }, (inst) =>
      defaultProbe(inst, d.config.services[inst.service]?.health, d.config.settings.health_timeout * 1000));
    hooks.transition.tap(CORE_TAP, ({ instance, to }) => {
      if (to === 'running' && !this.loops.has(instance.key)) this.schedule(instance);
      else if (to !== 'running' && to !== 'unhealthy') this.cancel(instance);
    });
  }

  /** Run the probe hook once; a throwing probe counts as a failed probe. */
  async probe(inst: Instance): Promise<ProbeResult> {
    try {
      const r = await this.d.hooks.probe.promise(inst);
      return r ?? { ok: false, detail: 'no probe answered', latencyMs: 0 };
    } catch (err) {
      return { ok: false, detail: (err as Error).message, latencyMs: 0 };
    }
  }

  private schedule(inst: Instance): void {
    if (this.stopped) return;
    const loop = { timer: undefined as NodeJS.Timeout | undefined };
    const interval = () => this.d.config.settings.health_interval * 1000; // a reload may change it
    this.streak.set(inst.key, { ok: 0, fail: 0 });
    const tick = async () => {
      const result = await this.probe(inst);
      if (this.loops.get(inst.key) !== loop) return; // cancelled (maybe replaced) while probing
      this.d.hooks.probeResult.call(inst, result);
      this.count(inst, result);
      if (this.loops.get(inst.key) === loop) loop.timer = setTimeout(tick, interval());
    };
    loop.timer = setTimeout(tick, interval());
    this.loops.set(inst.key, loop);
  }

  private count(inst: Instance, r: ProbeResult): void {
    const s = this.streak.get(inst.key)!;
    const { unhealthy_threshold, healthy_threshold } = this.d.config.settings;
    if (r.ok) { s.ok += 1; s.fail = 0; } else { s.fail += 1; s.ok = 0; }
    if (inst.state === 'running' && s.fail >= unhealthy_threshold) {
      this.d.registry.transition(inst, 'unhealthy', `${s.fail} failed probes: ${r.detail}`);
      this.d.log.warn({ instance: inst.key, detail: r.detail }, 'instance unhealthy');
      this.d.onUnhealthy(inst, r.detail);
    } else if (inst.state === 'unhealthy' && s.ok >= healthy_threshold) {
      this.d.registry.transition(inst, 'running', `recovered: ${r.detail}`);
      this.d.log.info({ instance: inst.key }, 'instance recovered');
    }
  }

  private cancel(inst: Instance): void {
    clearTimeout(this.loops.get(inst.key)?.timer);
    this.loops.delete(inst.key);
    this.streak.delete(inst.key);
  }

  close(): void {
    this.stopped = true;
    for (const loop of this.loops.values()) clearTimeout(loop.timer);
    this.loops.clear();
  }
}
