// The ledger of instances a request created (spawn_on_request): which they are and when each was
// last active, in the plugin's own database ({data_dir}/plugins/idle-scaler.db), so that a
// restart of ten serve neither makes them immortal nor forgets their idle clock. Written when one
// is created, changes state or goes; never per request (the in-memory lastRequestAt covers
// activity between two state changes).
//
// A mark belongs to one Instance object: an instance removed (`ten stop`) and made again under
// the same id by an admin (`ten spawn`) is a new object, and the old mark is dropped the first
// time it is seen, so an admin's instance never inherits a request's expiry.
import type { DeepReadonly, InstanceInfo, PluginStore, RegistryView, TenementConfig } from '../../core/index.ts';

const SCHEMA = `CREATE TABLE IF NOT EXISTS spawned (
  service TEXT NOT NULL, id TEXT NOT NULL,
  created_at INTEGER NOT NULL, -- ms epoch
  active_at INTEGER NOT NULL,  -- ms epoch of its last activity known at its last state change
  PRIMARY KEY (service, id))`;

export interface Mark {
  readonly service: string;
  readonly id: string;
  /** The instance this mark is about; undefined until bound (loaded from the store, not seen yet). */
  inst: InstanceInfo | undefined;
  createdAt: number;
  /** Last activity as stored (ms epoch). */
  activeAt: number;
}

export class SpawnLedger {
  /** By instance key. */
  private readonly marks = new Map<string, Mark>();
  private readonly put: ReturnType<PluginStore['prepare']>;
  private readonly drop: ReturnType<PluginStore['prepare']>;
  private readonly active: ReturnType<PluginStore['prepare']>;

  constructor(store: PluginStore) {
    store.exec(SCHEMA);
    this.put = store.prepare('INSERT OR REPLACE INTO spawned (service, id, created_at, active_at) VALUES (?, ?, ?, ?)');
    this.drop = store.prepare('DELETE FROM spawned WHERE service = ? AND id = ?');
    this.active = store.prepare('UPDATE spawned SET active_at = ? WHERE service = ? AND id = ?');
    const rows = store.prepare('SELECT service, id, created_at, active_at FROM spawned').all() as Array<{ service: string; id: string; created_at: number; active_at: number }>;
    for (const r of rows) this.marks.set(`${r.service}:${r.id}`, { service: r.service, id: r.id, inst: undefined, createdAt: r.created_at, activeAt: r.active_at });
  }

  /** Marks in the ledger (stale ones not yet dropped included). */
  get size(): number {
    return this.marks.size;
  }

  /** Tie stored marks to the instances ten serve restored; drop those whose instance is gone
   *  (a mark of a service no longer in the config stays, for when it comes back). */
  bind(registry: RegistryView, config: DeepReadonly<TenementConfig>): void {
    for (const m of [...this.marks.values()]) {
      if (m.inst !== undefined) continue;
      const inst = registry.get(m.service, m.id);
      if (inst) m.inst = inst;
      else if (config.services[m.service]) this.forget(m);
    }
  }

  /** Record that a request created `inst`, active now. */
  add(inst: InstanceInfo, now = Date.now()): Mark {
    const m: Mark = { service: inst.service, id: inst.id, inst, createdAt: now, activeAt: now };
    this.marks.set(inst.key, m);
    this.put.run(m.service, m.id, m.createdAt, m.activeAt);
    return m;
  }

  /** `inst`'s mark if a request created it; binds a stored mark on first sight, drops a stale one. */
  of(inst: InstanceInfo): Mark | undefined {
    const m = this.marks.get(inst.key);
    if (!m) return undefined;
    if (m.inst === undefined) m.inst = inst;
    if (m.inst === inst) return m;
    this.forget(m);
    return undefined;
  }

  /** The live marks, stale ones dropped on the way (`registry` says which instance is current). */
  list(registry: RegistryView): Mark[] {
    const out: Mark[] = [];
    for (const m of [...this.marks.values()]) {
      const cur = registry.get(m.service, m.id);
      if (m.inst !== undefined && cur !== m.inst) this.forget(m);
      else if (m.inst !== undefined) out.push(m);
    }
    return out;
  }

  /** Marks of `service` (for max_spawned), bound or not. */
  count(service: string): number {
    let n = 0;
    for (const m of this.marks.values()) if (m.service === service) n++;
    return n;
  }

  /** When the instance was last active: its in-memory clock, or the stored one after a restart. */
  lastActive(m: Mark): number {
    return Math.max(m.activeAt, m.inst?.lastRequestAt ?? 0);
  }

  /** Store the last activity (at a state change); a write only when it moved. */
  touch(m: Mark, at = this.lastActive(m)): void {
    if (at <= m.activeAt) return;
    m.activeAt = at;
    this.active.run(at, m.service, m.id);
  }

  /** The instance is gone: forget its mark. */
  forget(m: Mark): void {
    if (this.marks.get(`${m.service}:${m.id}`) === m) this.marks.delete(`${m.service}:${m.id}`);
    this.drop.run(m.service, m.id);
  }
}
