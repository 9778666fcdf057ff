// The JSON shapes of deploy-workflows' API (/api/workflows/*), written once: journal.ts and
// shadow.ts build them (viewOp, viewHistory, viewShadow), and the `ten` CLI reads them with these
// types (type-only imports: nothing here runs). docs/cli.md documents them.

export type OpKind = 'deploy' | 'rolling' | 'rollout';
export type OpStatus = 'running' | 'succeeded' | 'failed' | 'rolled-back' | 'aborted';
export type HistoryKind = OpKind | 'route' | 'weight' | 'rollout-step' | 'rollback' | 'shadow';
export type HistoryOutcome = 'ok' | 'failed' | 'rolled-back' | 'aborted';

/** One step of an operation's progress. */
export interface OperationStepView {
  /** ISO time */
  at: string;
  message: string;
}

/** Why a workflow did not succeed, as the API reports every error. */
export interface WorkflowErrorView {
  code: string;
  message: string;
  hint: string;
}

/** A deploy, rolling deploy or rollout: GET /api/workflows/operations/:id, GET
 *  /api/workflows/rollout/:service, and `{ operation }` in the 202 answers that start one. */
export interface OperationView {
  id: number;
  kind: OpKind;
  service: string;
  /** The request's parameters (version or to, weight, steps, interval, ...). */
  params: Record<string, unknown>;
  status: OpStatus;
  /** ISO time */
  started_at: string;
  finished_at: string | null;
  steps: OperationStepView[];
  error: WorkflowErrorView | null;
}

/** One event of GET /api/workflows/history (`{ entries: [...] }`, oldest first). */
export interface HistoryEntryView {
  id: number;
  /** ISO time */
  at: string;
  service: string;
  kind: HistoryKind;
  outcome: HistoryOutcome;
  /** One human sentence. */
  detail: string;
  data: Record<string, unknown>;
}

/** POST /api/workflows/route: the service's weights after the switch, by instance id. */
export interface RouteView {
  service: string;
  weights: Record<string, number>;
}

/** A shadow (traffic mirror) of a service to another instance, with its comparison so far. */
export interface ShadowView {
  service: string;
  /** Instance id that receives the copies. */
  to: string;
  percent: number;
  active: boolean;
  /** ISO time */
  started_at: string;
  /** Requests copied to the shadow. */
  mirrored: number;
  /** Requests not copied (the shadow was not running, or the body was over shadow_body_limit). */
  skipped: number;
  /** Mirrored requests whose two answers were compared. */
  compared: number;
  status_mismatches: number;
  shadow_errors: number;
  /** Mean latencies over the compared requests (ms, 2 decimals); null before the first. */
  stable_mean_ms: number | null;
  shadow_mean_ms: number | null;
  latency_diff_ms: number | null;
}
