// The supervisor: starts an instance's process, waits for it to be ready, stops it
// (SIGTERM through tenement-init → stop_timeout → SIGKILL of everything) and restarts crashed or unhealthy
// instances with exponential backoff per instance, up to max_restarts within restart_window.
import type { Logger } from 'pino';
import { requireService, serviceOf } from './config-schema.ts';
import { emitEvent } from './events.ts';
import { TenementError } from './errors.ts';
import type { Hooks } from './hooks.ts';
import { cgroupTag, probeCgroups } from './cgroup.ts';
import { freeze } from './freezer.ts';
import { canConnect, freePort, instanceAddress } from './net.ts';
import { waitUntil } from './wait.ts';
import type { Registry } from './registry.ts';
import { adoptRun, endProcess, forgetRun, sameProcess, sweepCgroups } from './adopt.ts';
import { afterExit, takeRestart } from './restart-policy.ts';
import { startFingerprint } from './config-diff.ts';
import { describeExit, signalRun, spawnInstance, type Containment, type OutputCapture, type Running } from './process.ts';
import type { Store } from './store.ts';
import type { InstanceControl } from './plugin.ts';
import type { Instance, InstanceState, ProbeResult, ServiceConfig, TenementConfig } from './types.ts';

export interface SupervisorDeps {
  /** The config in force, read at each use, never kept (a reload replaces it: core/live-config.ts). */
  readonly config: TenementConfig;
  registry: Registry;
  hooks: Hooks;
  log: Logger;
  /** Runs the probe hook once (health.ts). */
  probe(inst: Instance): Promise<ProbeResult>;
  /** Where the apps' stdout and stderr go (the logbook); discarded when absent. */
  output?: OutputCapture;
  /** Where instances' processes are recorded for a later ten serve to adopt (the store). */
  runs?: Pick<Store, 'putRun' | 'deleteRun' | 'listRuns'>;
}

/** Owns every instance's process; as InstanceControl, it is also what plugins ask to start,
 *  stop, create or re-weight instances (plugin.ts). */
export class Supervisor implements InstanceControl {
  private readonly running = new Map<string, Running>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly ports = new Set<number>();
  /** The latest start attempt per instance: an older attempt's process is not kept. */
  private readonly attempt = new Map<string, number>();
  private gen = 0;
  /** The tail of the spawn queue (see serially()). */
  private spawning: Promise<unknown> = Promise.resolve();
  /** Set by stopAll() and detachAll(): nothing is spawned any more, not even a start already queued. */
  private closed = false;
  /** Set by hurry(): stops wait this long (ms) at most before SIGKILL. */
  private hurried: number | undefined;

  /** How instances are contained on this host (probed once). */
  readonly containment: Containment;

  constructor(private readonly d: SupervisorDeps) {
    this.containment = { cgroups: probeCgroups(cgroupTag(d.config.settings.data_dir)), root: process.getuid?.() === 0 };
  }

  /** End what a killed ten serve left running in this data_dir's instance cgroups and nobody
   *  adopted (adopt.ts sweepCgroups); the names of the cgroups it emptied. */
  sweepLeftovers(): Promise<string[]> {
    return sweepCgroups(this.containment, new Set([...this.running.keys()].map((k) => k.replace(':', '.'))));
  }

  service(inst: Instance): ServiceConfig {
    return requireService(this.d.config, inst.service);
  }

  /**
   * Start the process; resolves when it is running, or when this start attempt has failed.
   * Ready = accepts TCP connections, then (with `ready: 'health'`, the default, and a health path)
   * passes the probe.
   */
  async start(inst: Instance, reason: string, opts: { ready?: 'port' | 'health' } = {}): Promise<void> {
    const svc = this.service(inst);
    this.registered(inst);
    if (this.closed) return; // shutting down: a late start (a plugin's, a timer's) spawns nothing
    this.clearTimer(inst);
    this.d.registry.transition(inst, 'starting', reason);
    const gen = ++this.gen;
    this.attempt.set(inst.key, gen);
    const wanted = () => this.attempt.get(inst.key) === gen && inst.state === 'starting';
    let run: Running;
    try {
      run = await this.launch(inst, svc, gen);
    } catch (err) {
      if (!wanted()) return;
      const code = err instanceof TenementError ? err.code : undefined;
      this.d.log.error({ instance: inst.key, err: (err as Error).message, ...(code ? { code } : {}) }, 'instance could not be started');
      // what this host or the config lacks (a user without root or unknown, a workdir the user
      // cannot enter, a limit without its cgroup controller, a missing tool) does not come back
      // by retrying
      if (code?.startsWith('TEN_ERR_ISOLATION_') || (err as TenementError).details?.permanent === true) {
        // kept as its last exit too, so ps, the API and ten spawn say why
        inst.lastExit = { code: null, signal: null, at: Date.now(), reason: `could not start: ${code}: ${(err as Error).message}` };
        this.d.registry.transition(inst, 'failed', inst.lastExit.reason!);
      }
      else this.afterExit(inst, null, null, `could not start: ${(err as Error).message}`);
      return;
    }
    if (!wanted()) { // stopped or restarted while it was being launched: this process is not wanted
      run.stopping = true;
      signalRun(run, 'SIGKILL');
      return;
    }
    this.running.set(inst.key, run);
    if (run.listenPath && run.startTicks) {
      this.d.runs?.putRun({
        service: inst.service, id: inst.id, pid: run.pid, start_ticks: run.startTicks, app_pid: run.appPid,
        port: run.port, socket: run.socket, listen: run.listenPath, started_at: Date.now(),
        config: startFingerprint(svc, this.d.config.settings),
      });
    }
    emitEvent(this.d.hooks, inst, 'spawned', `pid ${run.appPid}, ${run.socket ? `socket ${run.socket}` : `port ${run.port}`}`, { pid: run.appPid, port: run.port });
    await this.watch(inst, run, svc, opts);
  }

  /** A kept process: wait until it is ready (port, then health), then `running`; killed if it is
   *  not ready within startup_timeout. */
  private async watch(inst: Instance, run: Running, svc: ServiceConfig, opts: { ready?: 'port' | 'health' }): Promise<void> {
    inst.port = run.port;
    inst.socket = run.socket;
    inst.pid = run.appPid;
    const alive = () => this.running.get(inst.key) === run;
    const deadline = Date.now() + svc.startup_timeout * 1000;
    const addr = instanceAddress({ port: run.port, socket: run.socket })!;
    let ready = await waitUntil(() => canConnect(addr, 500), { deadline, alive });
    if (ready && svc.health && opts.ready !== 'port') {
      ready = await waitUntil(async () => (await this.d.probe(inst)).ok, { deadline, alive, maxDelayMs: 250 });
    }
    if (!alive()) return; // exited or stopped meanwhile: the exit path owns the state
    if (!ready) {
      run.killedFor = `not ready within startup_timeout (${svc.startup_timeout} s)`;
      signalRun(run, 'SIGKILL');
      await run.exited; // the exit path has decided what follows when start() resolves
      return;
    }
    inst.startedAt = run.readySince ?? Date.now();
    this.d.registry.transition(inst, 'running', 'ready');
    this.d.log.info({ instance: inst.key, app_pid: inst.pid, port: run.port, ...(run.socket ? { socket: run.socket } : {}) }, 'instance running');
  }

  /** Reserve a port, let isolation rewrite the spec, spawn. The caller decides whether to keep it. */
  private async launch(inst: Instance, svc: ServiceConfig, gen: number): Promise<Running> {
    const port = await freePort(this.ports);
    this.ports.add(port);
    try {
      const run = await this.serially(() => spawnInstance({ settings: this.d.config.settings, hooks: this.d.hooks, inst, svc, port, gen, containment: this.containment, output: this.d.output }));
      this.onEnded(inst, run);
      return run;
    } catch (err) {
      this.ports.delete(port);
      throw err;
    }
  }

  /**
   * One spawn at a time, each after a turn of the event loop. fork+exec of a process as large as
   * ten serve blocks the loop (tens of ms on a small VM): 200 boot instances spawned back to back
   * kept the listener from answering for 16 s; queued, requests are served between two spawns.
   */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.spawning.then(() => new Promise<void>((r) => setImmediate(r))).then(() => {
      if (this.closed) throw new Error('ten serve is shutting down');
      return fn();
    });
    this.spawning = turn.catch(() => undefined);
    return turn;
  }

  /**
   * The init exited: read its last reports, end what is left in the cgroup, then decide. The app's
   * own status comes from the init's `exit` report. Reported as such rather than as a crash: an
   * app that daemonized (its main process exited and left processes running: failed, no restart,
   * TEN_ERR_ISOLATION_DAEMONIZED) and an OOM kill in its cgroup (restarted per policy).
   */
  private async onExit(inst: Instance, run: Running, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (run.detached) return;
    await Promise.race([run.controlClosed, new Promise((r) => setTimeout(r, 1000))]);
    this.d.runs?.deleteRun(inst.service, inst.id, run.pid);
    forgetRun(run.listenPath);
    // read before the cgroup goes: its counters go with it
    const oomKills = run.cgroup === null ? 0 : run.cgroup.oomKills() - run.oomBefore;
    if (run.cgroup) {
      if (run.cgroup.pids().length > 0) await run.cgroup.killAll();
      await run.cgroup.release();
    }
    this.ports.delete(run.port);
    run.markExited();
    if (this.running.get(inst.key) !== run) return; // a process that was never kept
    this.running.delete(inst.key);
    const status = run.init.exit ?? { code, signal };
    const oom = oomKills > 0;
    // daemonizing = the main process forked, then exited 0; a crash that left children is a crash
    const left = run.init.orphans && !run.init.orphans.stopping && !run.stopping && status.code === 0 ? run.init.orphans.count : 0;
    const reason = run.killedFor ?? (run.init.error ? `could not start: ${run.init.error}`
      : oom ? `killed by the kernel's OOM killer (memory_limit_mb = ${this.service(inst).memory_limit_mb} reached)`
        : left > 0 ? new TenementError('TEN_ERR_ISOLATION_DAEMONIZED', [String(left)]).message : undefined);
    const pid = run.appPid;
    emitEvent(this.d.hooks, inst, 'exited', `pid ${pid}, ${describeExit({ ...status, reason })}`, { pid, code: status.code, signal: status.signal });
    if (oom) emitEvent(this.d.hooks, inst, 'oom', `killed by the kernel's OOM killer: memory_limit_mb = ${this.service(inst).memory_limit_mb}`, { pid, kills: oomKills });
    inst.pid = null;
    inst.port = null;
    inst.socket = null;
    inst.startedAt = null;
    inst.suspended = null;
    inst.lastExit = { ...status, at: Date.now(), ...(reason ? { reason } : {}) };
    if (run.stopping) return; // stop() owns the next state
    const why = describeExit(inst.lastExit);
    if (left > 0) {
      this.d.log.error({ instance: inst.key, code: 'TEN_ERR_ISOLATION_DAEMONIZED', left }, `instance ${why}`);
      this.d.registry.transition(inst, 'failed', `TEN_ERR_ISOLATION_DAEMONIZED: ${why}`);
      return;
    }
    this.d.log.warn({ instance: inst.key, code: status.code, signal: status.signal, ...(oom ? { oom: true } : {}) }, `instance ${why}`);
    this.afterExit(inst, status.code, status.signal, why);
  }

  /** Carry out what the restart policy decides after an unplanned exit (restart-policy.ts). */
  private afterExit(inst: Instance, code: number | null, signal: string | null, why: string): void {
    const next = afterExit(inst, this.service(inst), this.d.config.settings, code, signal, why);
    this.d.registry.transition(inst, next.state, next.reason);
    if (next.state === 'failed' && next.gaveUp) this.d.log.error({ instance: inst.key }, 'instance failed: too many restarts');
    if (next.state === 'restarting') this.later(inst, next.delayMs, () => inst.state === 'restarting' && this.start(inst, 'restart after crash'));
  }

  /** Health said unhealthy: restart after the backoff delay unless it recovers first. */
  onUnhealthy(inst: Instance, detail: string): void {
    if (this.service(inst).restart === 'never') return;
    this.later(inst, takeRestart(inst, this.d.config.settings, false) ?? 0, async () => {
      if (inst.state !== 'unhealthy') return; // recovered meanwhile
      if (takeRestart(inst, this.d.config.settings) === undefined) {
        return this.stop(inst, 'failed', `unhealthy (${detail}); gave up after ${this.d.config.settings.max_restarts} restarts`);
      }
      await this.stop(inst, 'restarting', `unhealthy (${detail})`);
      if ((inst.state as InstanceState) === 'restarting') await this.start(inst, 'restart after failed health checks');
    });
  }

  /** Stop gracefully: SIGTERM to the group, SIGKILL after stop_timeout. Ends in `final`. */
  async stop(inst: Instance, final: InstanceState, reason: string): Promise<void> {
    this.clearTimer(inst);
    const run = this.running.get(inst.key);
    if (!run) {
      this.d.registry.transition(inst, final, reason);
      return;
    }
    run.stopping = true;
    this.d.registry.transition(inst, 'stopping', reason); // no new requests from here on
    await this.drain(inst);
    signalRun(run, 'SIGTERM');
    if (run.freezing) await run.freezing.then((f) => { run.frozen = f; }, () => undefined);
    if (run.frozen) this.thaw(inst, run); // a frozen process only acts on signals once thawed
    const kill = setTimeout(() => signalRun(run, 'SIGKILL'), Math.min(this.service(inst).stop_timeout * 1000, this.hurried ?? Infinity));
    run.kill = kill;
    await run.exited;
    clearTimeout(kill);
    this.d.registry.transition(inst, final, reason);
  }

  /**
   * Freeze a running instance's processes; it becomes `idle` at once (no new traffic) and keeps
   * its port and pid. Resolves with the mechanism once the kernel reports it frozen.
   */
  async suspend(inst: Instance, reason: string): Promise<string> {
    const run = this.running.get(inst.key);
    if (!run || inst.state !== 'running') throw new Error(`${inst.key} is not running`);
    this.d.registry.transition(inst, 'idle', `${reason}; freezing`);
    inst.suspended = 'freezing';
    run.freezing = freeze(run.pid, run.cgroup);
    try {
      run.frozen = await run.freezing;
    } finally {
      run.freezing = undefined;
    }
    inst.suspended = run.frozen.mechanism;
    return run.frozen.mechanism;
  }

  /** Thaw a suspended instance: `running` again once thawed. false when it was not suspended. */
  async resume(inst: Instance, reason: string): Promise<boolean> {
    const run = this.running.get(inst.key);
    if (!run || (!run.frozen && !run.freezing) || inst.state !== 'idle') return false;
    if (run.freezing) await run.freezing.catch(() => undefined);
    if (this.running.get(inst.key) !== run || inst.state !== 'idle') return false;
    this.thaw(inst, run);
    inst.lastRequestAt = Date.now();
    this.d.registry.transition(inst, 'running', reason);
    return true;
  }

  private thaw(inst: Instance, run: Running): void {
    try { run.frozen?.thaw(); } catch (err) { this.d.log.error({ instance: inst.key, err }, 'thaw failed'); }
    run.frozen = undefined;
    inst.suspended = null;
  }

  /** Let in-flight requests (and WebSockets) finish, for at most drain_timeout. */
  private async drain(inst: Instance): Promise<void> {
    const deadline = Date.now() + this.d.config.settings.drain_timeout * 1000;
    if (inst.inflight > 0) this.d.log.info({ instance: inst.key, inflight: inst.inflight }, 'draining');
    await waitUntil(() => inst.inflight === 0, { deadline, firstDelayMs: 10, slowAfterMs: 0 });
  }

  /** Manual restart: resets the crash budget. */
  async restart(inst: Instance, reason: string): Promise<void> {
    inst.restartTimes = [];
    // through `restarting`, not `stopped`: requests waiting for it keep waiting
    if (this.running.has(inst.key)) await this.stop(inst, 'restarting', reason);
    await this.start(inst, reason);
  }

  /** Run the probe hook once. */
  probe(inst: Instance): Promise<ProbeResult> {
    return this.d.probe(inst);
  }

  /** Add and persist a `stopped` instance of a configured service (the registry checks the name
   *  and the weight; TEN_ERR_INSTANCE_UNKNOWN_SERVICE for a service not in tenement.toml). */
  create(service: string, id: string, weight: number): Instance {
    requireService(this.d.config, service);
    return this.d.registry.create(service, id, weight);
  }

  /** Forget an instance that no longer runs: TEN_ERR_INSTANCE_RUNNING while it has a process
   *  (stop it first), TEN_ERR_INSTANCE_NOT_FOUND if it is not registered. */
  remove(inst: Instance): void {
    this.registered(inst);
    if (this.running.has(inst.key) || inst.pid !== null) throw new TenementError('TEN_ERR_INSTANCE_RUNNING', [inst.key, inst.state]);
    this.d.registry.remove(inst);
  }

  /** `inst` is the registry's own object for its key, else TEN_ERR_INSTANCE_NOT_FOUND (a removed
   *  or made-up instance is never started, stopped or frozen). */
  private registered(inst: Instance): void {
    if (this.d.registry.get(inst.service, inst.id) !== inst) throw new TenementError('TEN_ERR_INSTANCE_NOT_FOUND', [inst.key]);
  }

  /** Change weights as one atomic, persisted step. */
  setWeights(changes: ReadonlyArray<readonly [Instance, number]>, reason: string): void {
    this.d.registry.setWeights(changes, reason);
  }

  /** Record a state change (checked against the state table). */
  transition(inst: Instance, to: InstanceState, reason: string): boolean {
    return this.d.registry.transition(inst, to, reason);
  }

  /** Call onExit once the process has ended. */
  private onEnded(inst: Instance, run: Running): void {
    void run.ended.then(({ code, signal }) => this.onExit(inst, run, code, signal))
      .catch((err) => this.d.log.error({ instance: inst.key, err }, 'exit handling failed'));
  }

  /**
   * Adopt what a previous ten serve on this data_dir left running (the store's runs: adopt.ts):
   * each registered instance's process is taken back (`starting`, then `running` once ready, as
   * after a spawn) and its pid kept; a process whose instance is no longer wanted, or that cannot
   * be reached, is ended. Returns the keys adopted and the keys ended.
   */
  async adoptAll(): Promise<{ adopted: string[]; ended: string[] }> {
    const adopted: string[] = [];
    const ended: string[] = [];
    for (const row of this.d.runs?.listRuns() ?? []) {
      const key = `${row.service}:${row.id}`;
      const inst = this.d.registry.get(row.service, row.id);
      const svc = inst && serviceOf(this.d.config, row.service);
      let result: Awaited<ReturnType<typeof adoptRun>> | undefined;
      if (inst && svc && !this.running.has(key)) result = await adoptRun(row, inst, svc, { containment: this.containment, gen: ++this.gen, output: this.d.output });
      else if (sameProcess(row)) { // no longer wanted here: ended, as a stop would
        await endProcess(row.pid, null);
        result = { why: 'its instance is no longer in the store or the config', ended: true };
      }
      if (!result || !('run' in result)) {
        this.d.runs?.deleteRun(row.service, row.id, row.pid);
        forgetRun(row.listen);
        if (result?.ended) ended.push(key);
        if (result) this.d.log.warn({ instance: key, init_pid: row.pid }, `not adopted: ${result.why}${result.ended ? '; ended' : ''}`);
        continue;
      }
      const run = result.run;
      this.ports.add(run.port);
      this.attempt.set(inst!.key, run.gen);
      this.running.set(inst!.key, run);
      this.onEnded(inst!, run);
      this.d.registry.transition(inst!, 'starting', `adopted from the previous ten serve (pid ${run.appPid})`);
      emitEvent(this.d.hooks, inst!, 'adopted', `pid ${run.appPid}, ${run.socket ? `socket ${run.socket}` : `port ${run.port}`}`, { pid: run.appPid, port: run.port });
      adopted.push(key);
      // started under another config (changed while no ten serve ran): serves on until it is
      // replaced, as a reload would do it
      const stale = row.config !== startFingerprint(svc!, this.d.config.settings);
      void this.watch(inst!, run, svc!, {}).then(() => {
        if (!stale || inst!.state !== 'running') return;
        this.d.log.info({ instance: key }, 'adopted, but its service\'s config changed while no ten serve ran: restarting it');
        return this.restart(inst!, 'config changed while no ten serve ran');
      }).catch((err) => this.d.log.error({ instance: key, err }, 'adopted instance failed'));
    }
    return { adopted, ended };
  }

  /**
   * Leave every process running for the next ten serve to adopt (`ten serve --keep-apps`): the
   * control sockets are closed (each init keeps the app's output for the next one), nothing is
   * signalled, the store keeps their runs. Spawns nothing from now on.
   */
  detachAll(): number {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const n = this.running.size;
    for (const run of this.running.values()) {
      run.detached = true;
      run.control?.destroy();
    }
    this.running.clear();
    return n;
  }

  /**
   * Stop faster (a second SIGTERM or SIGINT during shutdown): every stop in progress or to come
   * SIGKILLs after `graceMs` at most instead of stop_timeout. Never leaves a process behind.
   */
  hurry(graceMs: number): void {
    this.hurried = graceMs;
    for (const run of this.running.values()) {
      if (!run.stopping) continue;
      if (run.kill) clearTimeout(run.kill);
      run.kill = setTimeout(() => signalRun(run, 'SIGKILL'), graceMs);
    }
  }

  /** Stop every instance, and spawn nothing from now on (a start still queued is dropped). */
  async stopAll(reason: string): Promise<void> {
    this.closed = true;
    await Promise.all(this.d.registry.list().map((i) => this.stop(i, 'stopped', reason).catch((err) =>
      this.d.log.error({ instance: i.key, err }, 'stop failed'))));
  }

  private later(inst: Instance, ms: number, fn: () => unknown): void {
    this.clearTimer(inst);
    this.timers.set(inst.key, setTimeout(() => {
      this.timers.delete(inst.key);
      Promise.resolve(fn()).catch((err) => this.d.log.error({ instance: inst.key, err }, 'scheduled restart failed'));
    }, ms));
  }

  private clearTimer(inst: Instance): void {
    const t = this.timers.get(inst.key);
    if (t) clearTimeout(t);
    this.timers.delete(inst.key);
  }
}
