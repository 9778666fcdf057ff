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
