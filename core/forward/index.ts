// The forwarder: sends one request to one instance and streams the answer back, holding one of the
// instance's bounded upstream slots while it does. It keeps an upstream (undici Pool + slot
// queue) per instance, and `instance.inflight` exact: +1 when a request is assigned, −1 exactly
// once when its attempt ends, however it ends. Which instance, and whether to try again, is the
// proxy's decision (core/proxy.ts), not this module's.
import http from 'node:http';
import { Client } from 'undici';
import { TenementError } from '../errors.ts';
import { instanceAddress } from '../net.ts';
import type { Instance, TenementConfig } from '../types.ts';
import { sendExpectContinue, sendUndici, type Attempt, type AttemptDone, type AttemptError, type AttemptRequest } from './attempt.ts';
import { Upstream, type Address } from './upstream.ts';

export type { AttemptError, AttemptRequest } from './attempt.ts';
export { requestHeaders, responseHeaders, type ClientInfo } from './headers.ts';
export { clientAddress, plainAddress, trustList } from './trust.ts';


export interface SendOptions {
  /** Use a new connection, not a pooled keep-alive one (the retry of RFC 9112 §9.3.1). */
  fresh: boolean;
  /** The client sent `Expect: 100-continue`. */
  expect: boolean;
}

/** An error for requests still queued on an upstream that went away: nothing was sent. */
const gone = (): AttemptError => Object.assign(new Error('the instance stopped before the request was sent'), { code: 'ECONNREFUSED' });

export class Forwarder {
  private readonly upstreams = new Map<string, Upstream>();
  private readonly agents = new Map<string, http.Agent>();

  /** `d.config`: the config in force, read at each use (a reload replaces it: core/live-config.ts). */
  constructor(private readonly d: { readonly config: TenementConfig }) {}

  /**
   * Send `r` to `inst` and stream the answer into `res`. `done(err, started)` is called once:
   * err null = answered; a TenementError = no slot (503 queue full / queue timeout); an
   * AttemptError = what the connection did. Returns a cancel function (the client left).
   */
  send(inst: Instance, res: http.ServerResponse, r: AttemptRequest, o: SendOptions,
    done: (err: AttemptError | TenementError | null, started: boolean) => void): (err: Error) => void {
    const addr = instanceAddress(inst);
    if (addr === undefined) {
      done(gone(), false);
      return noop;
    }
    const up = this.upstream(inst, addr);
    inst.inflight += 1;
    inst.lastRequestAt = Date.now();
    let acquired = false;
    let over = false;
    let attempt: Attempt | undefined;
    const end: AttemptDone = (err, started) => {
      if (over) return;
      over = true;
      if (acquired) up.release();
      inst.inflight -= 1;
      inst.lastRequestAt = Date.now();
      done(err, started);
    };
    const cancelQueue = up.acquire(() => {
      acquired = true;
      if (o.expect) {
        attempt = sendExpectContinue(addr, this.agent(inst), res, r, end);
      } else if (o.fresh) {
        const client = new Client(up.origin, { socketPath: addr.socketPath, pipelining: 1 });
        attempt = sendUndici(client, res, r, (err, started) => {
          client.destroy().catch(noop);
          end(err, started);
        });
      } else {
        attempt = sendUndici(up.pool, res, r, end);
      }
    }, (err) => end(err, false));
    return (err) => {
      if (over) return;
      if (attempt) attempt.cancel(err);
      else {
        cancelQueue();
        end(err, false);
      }
    };
  }

  /** Close an instance's connections (its process is gone or replaced). */
  drop(key: string): void {
    const up = this.upstreams.get(key);
    if (up) {
      this.upstreams.delete(key);
      up.close(gone()); // queued requests were never sent: the proxy may try them elsewhere
    }
    this.agents.get(key)?.destroy();
    this.agents.delete(key);
  }

  close(): void {
    for (const key of [...this.upstreams.keys(), ...this.agents.keys()]) this.drop(key);
  }

  private upstream(inst: Instance, addr: Address): Upstream {
    const have = this.upstreams.get(inst.key);
    if (have && have.sameAddress(addr)) return have;
    if (have) this.drop(inst.key);
    const svc = this.d.config.services[inst.service];
    const up = new Upstream(inst.key, addr, {
      connections: svc.max_connections, queue: svc.max_queue, queueTimeoutMs: svc.queue_timeout * 1000,
    });
    this.upstreams.set(inst.key, up);
    return up;
  }

  /** The keep-alive agent of the Expect: 100-continue leg (rare: one per instance, made on first use). */
  private agent(inst: Instance): http.Agent {
    let a = this.agents.get(inst.key);
    if (!a) {
      a = new http.Agent({ keepAlive: true, maxSockets: this.d.config.services[inst.service].max_connections });
      this.agents.set(inst.key, a);
    }
    return a;
  }
}

function noop(): void {}
