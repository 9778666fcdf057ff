// One instance's upstream: an undici keep-alive Pool to its port or Unix socket, and the bound on
// how many requests may use it at once. Requests past `connections` wait in a FIFO queue of at
// most `queue` entries for at most `queueTimeoutMs`; past either bound they fail with a 503 code
// at once, so a slow or stuck app holds a bounded amount of ten serve's memory and nobody waits
// forever in a library's internal queue.
import { Pool } from 'undici';
import { TenementError } from '../errors.ts';
import type { Address } from '../net.ts';

/** ms an exited instance's in-flight requests may still read their answers before the pool is destroyed. */
const CLOSE_GRACE_MS = 2000;

export type { Address };

export interface UpstreamLimits {
  /** Concurrent requests = keep-alive connections to the app. */
  connections: number;
  /** Requests that may wait for a connection; 0 = none wait. */
  queue: number;
  /** How long one may wait (ms). */
  queueTimeoutMs: number;
}

interface Waiter { go(): void; fail(err: Error): void; timer: NodeJS.Timeout }

export class Upstream {
  readonly pool: Pool;
  /** The origin undici connects to (a placeholder host for a Unix socket). */
  readonly origin: string;
  /** Requests holding a connection slot right now. */
  active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly key: string, readonly address: Address, readonly limits: UpstreamLimits) {
    this.origin = address.socketPath === undefined ? `http://127.0.0.1:${address.port}` : 'http://localhost';
    this.pool = new Pool(this.origin, {
      socketPath: address.socketPath,
      connections: limits.connections,
      pipelining: 1,
      // the app's own Keep-Alive: timeout=N hint wins when it sends one (less undici's 2 s margin)
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      maxHeaderSize: 65_536,
      connect: { timeout: 5_000 },
    });
  }

  /** Whether `addr` is still where this upstream connects (a restarted instance gets a new port). */
  sameAddress(addr: Address): boolean {
    return addr.port === this.address.port && addr.socketPath === this.address.socketPath;
  }

  /**
   * Take a slot: `go()` runs now, or later from the queue; `fail()` gets
   * TEN_ERR_ROUTE_QUEUE_FULL or TEN_ERR_ROUTE_QUEUE_TIMEOUT (503), or close()'s error. Returns a cancel function for
   * a request that left while queued (it then neither goes nor fails). Every `go()` must be
   * paired with one `release()`.
   */
  acquire(go: () => void, fail: (err: Error) => void): () => void {
    if (this.active < this.limits.connections) {
      this.active += 1;
      go();
      return noop;
    }
    if (this.waiting.length >= this.limits.queue) {
      fail(new TenementError('TEN_ERR_ROUTE_QUEUE_FULL', [this.key, this.limits.connections, this.limits.queue]));
      return noop;
    }
    const w: Waiter = {
      go, fail,
      timer: setTimeout(() => {
        this.drop(w);
        fail(new TenementError('TEN_ERR_ROUTE_QUEUE_TIMEOUT', [this.key, this.limits.queueTimeoutMs / 1000, this.limits.connections]));
      }, this.limits.queueTimeoutMs),
    };
    this.waiting.push(w);
    return () => { clearTimeout(w.timer); this.drop(w); };
  }

  /** Give a slot back; the longest waiter takes it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) {
      clearTimeout(next.timer);
      next.go();
      return;
    }
    this.active -= 1;
  }

  /**
   * Close every connection; requests still queued fail with `why` (nothing of them was sent).
   * Requests in flight keep their connection until it ends: an answer the app wrote just before
   * it exited is often still unread in the socket when the exit is seen, and destroying the pool
   * then turned a delivered answer into a reset — which the proxy retried, on the restarted
   * process (a GET /exit was run twice). After CLOSE_GRACE_MS the pool is destroyed anyway.
   */
  close(why: Error): void {
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.fail(why);
    }
    const force = setTimeout(() => { this.pool.destroy().catch(() => undefined); }, CLOSE_GRACE_MS);
    force.unref();
    this.pool.close().catch(() => undefined).finally(() => clearTimeout(force));
  }

  private drop(w: Waiter): void {
    const i = this.waiting.indexOf(w);
    if (i >= 0) this.waiting.splice(i, 1);
  }
}

function noop(): void {}
