// The workflows' own tables in the store: operations (deploy, rolling, rollout — with their
// progress, and the state a rollout needs to resume after a restart) and the history of every
// deploy, route, weight change, rollout step and rollback. Written on changes, never per request.
import type { HistoryEntryView, HistoryKind, HistoryOutcome, OpKind, OpStatus, OperationView, WorkflowErrorView } from './view.ts';
import type { PluginStore, TenementError } from '../../core/index.ts';

export type { OpKind } from './view.ts';

export interface Operation {
  id: number;
  kind: OpKind;
  service: string;
  params: Record<string, unknown>;
  status: OpStatus;
  started_at: number;
  finished_at: number | null;
  steps: Array<{ at: number; message: string }>;
  error: WorkflowErrorView | null;
  /** What a rollout needs to resume: the stable weights before it, the current step. */
  state: Record<string, unknown>;
}

export interface HistoryEntry {
  id: number; at: number; service: string; kind: HistoryKind; outcome: HistoryOutcome; detail: string; data: Record<string, unknown>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS deploy_workflows_ops (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, service TEXT NOT NULL, params TEXT NOT NULL,
  status TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER, steps TEXT NOT NULL,
  error TEXT, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deploy_workflows_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, service TEXT NOT NULL, kind TEXT NOT NULL,
  outcome TEXT NOT NULL, detail TEXT NOT NULL, data TEXT NOT NULL);
`;

type Row = Record<string, unknown>;

export class Journal {
  /** `onFinish` hears every operation's end (the engine emits it as an event). */
  constructor(private readonly db: PluginStore, private readonly onFinish: (op: Operation) => void = () => undefined) {
    db.exec(SCHEMA);
  }

  create(kind: OpKind, service: string, params: Record<string, unknown>): Operation {
    const op: Operation = { id: 0, kind, service, params, status: 'running', started_at: Date.now(), finished_at: null, steps: [], error: null, state: {} };
    const r = this.db.prepare(`INSERT INTO deploy_workflows_ops (kind, service, params, status, started_at, steps, state)
      VALUES (?, ?, ?, ?, ?, '[]', '{}')`).run(kind, service, JSON.stringify(params), op.status, op.started_at);
    op.id = Number(r.lastInsertRowid);
    return op;
  }

  save(op: Operation): void {
    this.db.prepare(`UPDATE deploy_workflows_ops SET status = ?, finished_at = ?, steps = ?, error = ?, state = ? WHERE id = ?`)
      .run(op.status, op.finished_at, JSON.stringify(op.steps), op.error && JSON.stringify(op.error), JSON.stringify(op.state), op.id);
  }

  step(op: Operation, message: string): void {
    op.steps.push({ at: Date.now(), message });
    this.save(op);
  }

  finish(op: Operation, status: OpStatus, err?: TenementError): void {
    op.status = status;
    op.finished_at = Date.now();
    op.error = err ? { code: err.code, message: err.message, hint: err.hint } : null;
    this.save(op);
    this.onFinish(op);
  }

  get(id: number): Operation | undefined {
    const row = this.db.prepare('SELECT * FROM deploy_workflows_ops WHERE id = ?').get(id) as Row | undefined;
    return row && toOp(row);
  }

  latest(kind: OpKind, service: string): Operation | undefined {
    const row = this.db.prepare('SELECT * FROM deploy_workflows_ops WHERE kind = ? AND service = ? ORDER BY id DESC LIMIT 1').get(kind, service) as Row | undefined;
    return row && toOp(row);
  }

  /** Operations a previous ten serve left running. */
  unfinished(): Operation[] {
    return (this.db.prepare("SELECT * FROM deploy_workflows_ops WHERE status = 'running' ORDER BY id").all() as Row[]).map(toOp);
  }

  /** `data`: any JSON object (a view, the parameters…), kept as the entry's `data`. */
  record(service: string, kind: HistoryKind, outcome: HistoryOutcome, detail: string, data: object = {}): void {
    this.db.prepare('INSERT INTO deploy_workflows_history (at, service, kind, outcome, detail, data) VALUES (?, ?, ?, ?, ?, ?)')
      .run(Date.now(), service, kind, outcome, detail, JSON.stringify(data));
  }

  history(service: string | undefined, limit: number): HistoryEntry[] {
    const rows = (service === undefined
      ? this.db.prepare('SELECT * FROM deploy_workflows_history ORDER BY id DESC LIMIT ?').all(limit)
      : this.db.prepare('SELECT * FROM deploy_workflows_history WHERE service = ? ORDER BY id DESC LIMIT ?').all(service, limit)) as Row[];
    return rows.reverse().map((r) => ({ ...(r as unknown as HistoryEntry), data: JSON.parse(r.data as string) }));
  }
}

function toOp(r: Row): Operation {
  return {
    id: r.id as number, kind: r.kind as OpKind, service: r.service as string, params: JSON.parse(r.params as string),
    status: r.status as OpStatus, started_at: r.started_at as number, finished_at: (r.finished_at as number | null) ?? null,
    steps: JSON.parse(r.steps as string), error: r.error ? JSON.parse(r.error as string) : null, state: JSON.parse(r.state as string),
  };
}

const iso = (t: number) => new Date(t).toISOString();

/** An operation on the API (view.ts): times as ISO strings, without the resume state. */
export function viewOp(op: Operation): OperationView {
  return {
    id: op.id, kind: op.kind, service: op.service, params: op.params, status: op.status,
    started_at: iso(op.started_at), finished_at: op.finished_at === null ? null : iso(op.finished_at),
    steps: op.steps.map((s) => ({ at: iso(s.at), message: s.message })), error: op.error,
  };
}

export function viewHistory(e: HistoryEntry): HistoryEntryView {
  return { id: e.id, at: iso(e.at), service: e.service, kind: e.kind, outcome: e.outcome, detail: e.detail, data: e.data };
}
