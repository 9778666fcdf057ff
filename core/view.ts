// The JSON shape of an instance on the management API (docs/cli.md documents it).
import type { Instance } from './types.ts';

/** Every management answer carries it, so a client can tell ten serve from whatever else answers. */
export const API_HEADER = 'x-tenement-api';

export interface InstanceView {
  service: string; id: string; key: string; state: string; health: string; weight: number;
  port: number | null; pid: number | null; socket: string | null; uptime_s: number | null;
  started_at: string | null; restarts: number; inflight: number; suspended: string | null;
  last_exit: { code: number | null; signal: string | null; at: string; reason?: string } | null;
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
