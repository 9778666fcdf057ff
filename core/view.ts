// The JSON shapes of the core management API (docs/cli.md documents them), written once: the
// server builds them here, the `ten` CLI reads them with these types.
import type { HealthStatus, Instance, InstanceState, ProbeResult } from './types.ts';

/** Every management answer carries it, so a client can tell ten serve from whatever else answers. */
export const API_HEADER = 'x-tenement-api';

/** An instance: GET /api/instances (`{ instances: [...] }`), /api/instances/:service/:id and the
 *  answers of spawn, stop, restart and weight. */
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
  /** Where it listens: a Unix socket path or "127.0.0.1:PORT"; null without a process. */
  socket: string | null;
  uptime_s: number | null;
  /** ISO time */
  started_at: string | null;
  restarts: number;
  inflight: number;
  /** How a sleeping instance is frozen ("cgroup-freezer" or "sigstop"), or null. */
  suspended: string | null;
  /** How the last process ended (`at`: ISO time); `reason` when tenement knows more than the status: it killed it, the OOM killer did, the app daemonized, or it could not be started. */
  last_exit: { code: number | null; signal: string | null; at: string; reason?: string } | null;
}

/** A health probe's result, as the probe returns it. */
export type ProbeView = ProbeResult;

/** POST /api/instances/:service/:id/health: the instance and a probe run now. */
export interface HealthView {
  instance: InstanceView;
  probe: ProbeView;
}

export function viewInstance(i: Instance): InstanceView {
  return {
    service: i.service, id: i.id, key: i.key, state: i.state, health: i.health, weight: i.weight,
    port: i.port, pid: i.pid, socket: i.port === null ? null : i.socket ?? `127.0.0.1:${i.port}`,
    uptime_s: i.startedAt === null ? null : Math.floor((Date.now() - i.startedAt) / 1000),
    started_at: i.startedAt === null ? null : new Date(i.startedAt).toISOString(),
    restarts: i.restarts, inflight: i.inflight, suspended: i.suspended,
    last_exit: i.lastExit && { ...i.lastExit, at: new Date(i.lastExit.at).toISOString() },
  };
}
