// `ten reload` (POST /api/reload) and SIGHUP: re-read tenement.toml as ten serve read it (same
// path, same --port/--domain), give it the verdict `ten config` gives, and apply what changed
// (config-diff.ts says how, key by key) without touching the rest. A config that fails the
// verdict changes nothing: TEN_ERR_RELOAD_INVALID lists every error. One reload at a time.
//
// The steps: (1) the instances of removed services are stopped, while their config is still in
// force, and leave the registry (the store keeps them: they come back with their service);
// (2) the new config is put in force (LiveConfig) and the live [settings] applied; (3) added
// services' instances (stored ones, then [instances]) and ids new in [instances] are created and
// started; (4) the instances of each service whose process-level keys changed are restarted one at
// a time, each running (healthy) before the next; the first that does not come back ends its
// service's turn, the others keep their old process; (5) an event per service, one for the
// server, the `configReloaded` hook, the report.
import { basename } from 'node:path';
import type { Logger } from 'pino';
import { diffConfigs, inForce, type ConfigDiff } from './config-diff.ts';
import { TenementError } from './errors.ts';
import { CORE_TAP, type Hooks } from './hooks.ts';
import type { LiveConfig } from './live-config.ts';
import { preparePlugins, resolvePlugins, type Builtins } from './loader.ts';
import type { Registry } from './registry.ts';
import type { ErrorItem } from './schema.ts';
import type { Store } from './store.ts';
import type { Supervisor } from './supervisor.ts';
import type { Instance, ReloadReport, Settings, TenementConfig } from './types.ts';

export interface ReloadDeps {
  live: LiveConfig;
  builtins: Builtins;
  /** Read the config file again exactly as ten serve did at start; undefined when it was started
   *  without one (then a reload is TEN_ERR_RELOAD_NO_FILE). Throws the file's TenementError. */
  load?: () => TenementConfig;
  registry: Registry;
  supervisor: Supervisor;
  store: Store;
  hooks: Hooks;
  log: Logger;
  /** Apply the live [settings] that components do not read at call time (the log limits). */
  applySettings(s: Settings): void;
}

/** Rounds of stopping a removed service's instances (an API spawn may add one meanwhile). */
const FORGET_ROUNDS = 5;

export class Reloader {
  private running = false;
  private closed = false;

  constructor(private readonly d: ReloadDeps) {}

  /** No reload from now on (ten serve is shutting down). */
  close(): void {
    this.closed = true;
  }

  /**
   * Reload tenement.toml. Resolves with what was done; rejects with TEN_ERR_RELOAD_INVALID (the
   * file fails the verdict: nothing changed), TEN_ERR_RELOAD_BUSY (another reload is under way,
   * or shutting down) or TEN_ERR_RELOAD_NO_FILE. Every outcome is logged.
   */
  async reload(source: string): Promise<ReloadReport> {
    if (this.closed) throw new TenementError('TEN_ERR_RELOAD_BUSY', ['ten serve is shutting down']);
    if (this.running) throw new TenementError('TEN_ERR_RELOAD_BUSY', ['another reload is in progress']);
    this.running = true;
    try {
      return await this.run(source);
    } catch (err) {
      const e = err as TenementError;
      this.d.log.error({ source, code: e.code, errors: e.details?.errors }, `config reload refused: ${e.message}`);
      throw err;
    } finally {
      this.running = false;
    }
  }

  private async run(source: string): Promise<ReloadReport> {
    const { live, log } = this.d;
    if (!this.d.load) throw new TenementError('TEN_ERR_RELOAD_NO_FILE');
    const file = live.current.path ?? '';
    const next = await verdict(file, async () => {
      const c = this.d.load!();
      await preparePlugins(c, this.d.builtins); // the verdict of ten config and ten serve's start
      return c;
    });
    const previous = live.current;
    const diff = diffConfigs(previous, next);
    const effective = inForce(previous, next, diff);
    // the plugins running stay: the services must also suit them (an isolation level they serve)
    if (diff.plugins.length > 0) await verdict(file, () => resolvePlugins(effective, this.d.builtins));
    const report = newReport(source, next.path ?? file, diff);
    log.info({ source, file: report.file }, 'config reload: applying');
    await this.forget(diff.removed, report);
    live.replace(effective);
    this.d.applySettings(effective.settings);
    await this.startNew(previous, effective, diff, report);
    await Promise.all(diff.changed.filter((c) => c.restart.length > 0).map((c) => this.roll(c.service, c.restart, report)));
    this.announce(previous, report);
    return report;
  }

  /** Stop the instances of removed services and take them out of the registry (not the store). */
  private async forget(removed: string[], report: ReloadReport): Promise<void> {
    const { registry, supervisor } = this.d;
    for (let round = 0; round < FORGET_ROUNDS; round++) {
      const gone = registry.list().filter((i) => removed.includes(i.service));
      if (gone.length === 0) return;
      await Promise.all(gone.map(async (inst) => {
        await supervisor.stop(inst, 'stopped', 'config reload: service removed');
        if (registry.get(inst.service, inst.id) !== inst || inst.pid !== null) return;
        registry.remove(inst, true);
        report.instances.removed.push(inst.key);
      }));
    }
  }

  /** Create and start added services' instances (as a boot restores them) and the ids that are
   *  new in [instances] (one that was there already and is gone was stopped on purpose: ten stop). */
  private async startNew(previous: TenementConfig, config: TenementConfig, diff: ConfigDiff, report: ReloadReport): Promise<void> {
    const { registry, store, supervisor } = this.d;
    const created: Instance[] = [];
    // own keys only: a service may be called `constructor`
    const listed = (c: TenementConfig, service: string) => (Object.hasOwn(c.instances, service) ? c.instances[service] : []);
    for (const s of store.listInstances()) {
      if (!diff.added.includes(s.service) || registry.get(s.service, s.id)) continue;
      const inst = registry.create(s.service, s.id, s.weight, false);
      // as at boot (server.ts restoreInstances): created by requests, they come back asleep
      if (config.services[s.service].spawn_on_request && !listed(config, s.service).includes(s.id)) registry.transition(inst, 'idle', 'restored asleep (spawn_on_request)');
      else created.push(inst);
    }
    for (const [service, ids] of Object.entries(config.instances)) {
      const had = diff.added.includes(service) ? [] : listed(previous, service);
      for (const id of ids) if (!had.includes(id) && !registry.get(service, id)) created.push(registry.create(service, id, config.services[service].weight));
    }
    await Promise.all(created.map((inst) => supervisor.start(inst, 'config reload').catch(() => undefined)));
    for (const inst of created) {
      if (inst.state === 'running') report.instances.started.push(inst.key);
      else report.instances.failed.push({ instance: inst.key, state: inst.state, reason: lastWords(inst) });
    }
  }

  /** Restart a changed service's instances one at a time; stop at the first that does not come back. */
  private async roll(service: string, keys: string[], report: ReloadReport): Promise<void> {
    const { registry, supervisor } = this.d;
    const reason = `config reload: ${keys.join(', ')} changed`;
    let broken: string | undefined;
    for (const inst of registry.list(service)) {
      if (registry.get(inst.service, inst.id) !== inst) continue; // removed meanwhile
      try {
        if (inst.state === 'idle') {
          // suspended: frozen with its old process, which a wake would thaw; asleep: nothing runs
          if (inst.pid === null) continue;
          await supervisor.stop(inst, 'idle', reason);
          report.instances.stopped.push(inst.key);
          continue;
        }
        // without a process (stopped, failed, waiting to restart) its next start reads the new config
        if (inst.pid === null && inst.state !== 'starting') continue;
        if (inst.state === 'stopping') continue;
        if (broken) {
          report.instances.failed.push({ instance: inst.key, state: inst.state, reason: `not restarted, still on its old process: ${broken} did not come back` });
          continue;
        }
        await supervisor.restart(inst, reason);
      } catch (err) {
        if (registry.get(inst.service, inst.id) !== inst) continue;
        this.d.log.error({ err, instance: inst.key }, 'config reload: restart failed');
      }
      if (inst.state === 'running') report.instances.restarted.push(inst.key);
      else {
        broken = inst.key;
        report.instances.failed.push({ instance: inst.key, state: inst.state, reason: lastWords(inst) });
      }
    }
  }

  /** The warnings, the event stream, the configReloaded hook and the log. */
  private announce(previous: TenementConfig, report: ReloadReport): void {
    const { hooks, log, live } = this.d;
    const r = report;
    for (const n of r.settings.needs_restart) r.warnings.push(`[settings] ${n} changed: it needs a restart of ten serve (the old value stays in force)`);
    for (const p of r.plugins.needs_restart) r.warnings.push(`${p} changed: the plugins running keep their options until ten serve restarts`);
    for (const f of r.instances.failed) r.warnings.push(`${f.instance} is ${f.state}: ${f.reason}`);
    const event = (service: string, message: string) => hooks.event.call({ at: Date.now(), source: CORE_TAP, kind: 'reload', service, message });
    for (const s of r.services.added) event(s, `service added (${count(r.instances.started, s)} instance(s) started)`);
    for (const s of r.services.removed) event(s, `service removed (${count(r.instances.removed, s)} instance(s) stopped, kept in the store)`);
    for (const c of r.services.changed) {
      const restarted = c.restart.length > 0 ? `; ${count(r.instances.restarted, c.service)} instance(s) restarted` : '';
      event(c.service, `service changed: ${[...c.restart, ...c.live].join(', ')}${restarted}`);
    }
    event('', `config reloaded (${r.source}): ${summary(r)}`);
    hooks.configReloaded.call({ previous, config: live.current, report: r });
    log.info({ source: r.source, services: r.services, instances: r.instances, settings: r.settings, plugins: r.plugins }, `config reloaded: ${summary(r)}`);
    for (const w of r.warnings) log.warn({ source: r.source }, `config reload: ${w}`);
  }
}

/** Run `fn`; a TenementError it throws (every error of the file, or of the plugins) becomes
 *  TEN_ERR_RELOAD_INVALID listing them, each with its code, key and line. */
async function verdict<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof TenementError)) throw err;
    const items = (err.details.errors as ErrorItem[] | undefined)
      ?? [{ code: err.code, message: err.message, key: String(err.details.key ?? ''), line: err.details.line as number | undefined }];
    const list = items.map((i) => `\n  ${i.code}: ${i.message}`).join('');
    throw new TenementError('TEN_ERR_RELOAD_INVALID', [basename(file) || 'the config', `${items.length} error${items.length === 1 ? '' : 's'}`, list], { file, errors: items }, err);
  }
}

function newReport(source: string, file: string, diff: ConfigDiff): ReloadReport {
  const s = diff.settings;
  return {
    source, file,
    changed: diff.added.length + diff.removed.length + diff.changed.length + s.live.length + s.instances.length + s.server.length + diff.plugins.length > 0,
    services: { added: diff.added, removed: diff.removed, changed: diff.changed },
    instances: { started: [], removed: [], restarted: [], stopped: [], failed: [] },
    settings: { applied: [...s.live, ...s.instances], needs_restart: s.server },
    plugins: { needs_restart: diff.plugins },
    warnings: [],
  };
}

const count = (keys: string[], service: string) => keys.filter((k) => k.startsWith(`${service}:`)).length;

/** Why an instance is not running, in a few words. */
function lastWords(inst: Instance): string {
  const e = inst.lastExit;
  if (e?.reason) return e.reason;
  if (e) return e.signal ? `its process was killed by ${e.signal}` : `its process exited with code ${e.code}`;
  return `not running (${inst.state})`;
}

/** One line: what the reload did. */
export function summary(r: ReloadReport): string {
  if (!r.changed) return 'no change';
  const parts: string[] = [];
  const n = (k: string[], what: string) => { if (k.length > 0) parts.push(`${what} ${k.join(', ')}`); };
  n(r.services.added, 'added');
  n(r.services.removed, 'removed');
  n(r.services.changed.map((c) => c.service), 'changed');
  n(r.instances.restarted, 'restarted');
  n(r.settings.applied, 'settings applied:');
  n(r.settings.needs_restart, 'needs a restart of ten serve:');
  n(r.plugins.needs_restart, 'plugins needing a restart of ten serve:');
  return parts.join('; ') || 'no change';
}
