// Shapes of the management API's JSON responses, as the CLI sees them (see docs/cli.md).
import type { HealthStatus, InstanceState } from '../core/types.ts';

export interface InstanceView {
  service: string;
  id: string;
  /** "service:id" */
  key: string;
  state: InstanceState;
  health: HealthStatus;
  weight: number;
  port: number | null;
  pid: number | null;
  /** "127.0.0.1:41234", or null when there is no process. */
  socket: string | null;
  uptime_s: number | null;
  started_at: string | null;
  restarts: number;
  /** How a sleeping instance is frozen ("cgroup-freezer" or "sigstop"), or null. */
  suspended?: string | null;
  inflight: number;
  last_exit: { code: number | null; signal: string | null; at: string | number } | null;
}

export interface ProbeView {
  ok: boolean;
  detail: string;
  latencyMs: number;
}

export interface HealthView {
  instance: InstanceView;
  probe: ProbeView;
}

// ---------------------------------------------------------------- deploy workflows (deploy-workflows)

/** The error of a workflow that did not succeed, as the API reports errors. */
export interface WorkflowErrorView {
  code: string;
  message: string;
  hint?: string;
}

export interface OperationStep {
  /** ISO time */
  at: string;
  message: string;
}

export type OperationKind = 'deploy' | 'rolling' | 'rollout';
export type OperationStatus = 'running' | 'succeeded' | 'failed' | 'rolled-back' | 'aborted';

/** A deploy, rolling deploy or rollout, as GET /api/workflows/operations/:id returns it. */
export interface Operation {
  id: string;
  kind: OperationKind;
  service: string;
  /** The request's parameters (version or to, weight, steps, interval, ...). */
  params: Record<string, unknown>;
  status: OperationStatus;
  started_at: string;
  finished_at: string | null;
  steps: OperationStep[];
  error: WorkflowErrorView | null;
}

/** POST /api/workflows/route: the service's weights after the switch, by instance id. */
export interface RouteResult {
  service: string;
  weights: Record<string, number>;
}

/** A shadow (traffic mirror) of a service to a new version, with its comparison so far. */
export interface ShadowStatus {
  service: string;
  /** Instance id that receives the copies. */
  to: string;
  percent: number;
  active: boolean;
  started_at: string | null;
  /** Requests copied to the shadow. */
  mirrored: number;
  /** Requests not copied (not sampled, or not safe to replay). */
  skipped: number;
  /** Mirrored requests whose two responses were compared. */
  compared: number;
  status_mismatches: number;
  shadow_errors: number;
  stable_mean_ms: number | null;
  shadow_mean_ms: number | null;
  latency_diff_ms: number | null;
}

export type HistoryKind = 'deploy' | 'rolling' | 'route' | 'weight' | 'rollout' | 'rollout-step' | 'rollback' | 'shadow';
export type HistoryOutcome = 'ok' | 'failed' | 'rolled-back' | 'aborted';

export interface HistoryEntry {
  id: string | number;
  /** ISO time */
  at: string;
  service: string;
  kind: HistoryKind;
  outcome: HistoryOutcome;
  /** One human sentence. */
  detail: string;
  data: Record<string, unknown>;
}
