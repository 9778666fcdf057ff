// The wake queue: requests waiting for one instance to be ready, bounded in number and in time,
// released in arrival order.
import { TenementError, type Instance } from '../../core/index.ts';

interface Waiter {
  resolve(inst: Instance): void;
  reject(err: TenementError): void;
  timer: NodeJS.Timeout;
}

export class WakeQueue {
  private readonly queues = new Map<string, Waiter[]>();

  constructor(private readonly opts: { size: number; waitMs: number }) {}

  /** Wait for `inst` to be released. Rejects at once when the queue is full, or after waitMs. */
  wait(inst: Instance): Promise<Instance> {
    const q = this.queues.get(inst.key) ?? [];
    if (q.length >= this.opts.size) {
      return Promise.reject(new TenementError('TEN_ERR_SCALER_QUEUE_FULL', [inst.key, `queue_size = ${this.opts.size}`]));
    }
    this.queues.set(inst.key, q);
    return new Promise<Instance>((resolve, reject) => {
      const w: Waiter = {
        resolve, reject,
        timer: setTimeout(() => {
          const i = q.indexOf(w);
          if (i >= 0) q.splice(i, 1);
          reject(new TenementError('TEN_ERR_SCALER_WAKE_TIMEOUT', [inst.key, this.opts.waitMs / 1000]));
        }, this.opts.waitMs),
      };
      q.push(w);
    });
  }

  /** Requests waiting for `inst`. */
  size(inst: Instance): number {
    return this.queues.get(inst.key)?.length ?? 0;
  }

  /** Release every waiter of `inst`, first come first served: with the instance, or with `err`. */
  release(inst: Instance, err?: TenementError): void {
    const q = this.queues.get(inst.key);
    if (!q) return;
    this.queues.delete(inst.key);
    for (const w of q) {
      clearTimeout(w.timer);
      if (err) w.reject(err);
      else w.resolve(inst);
    }
  }

  /** Fail everything still waiting (shutdown). */
  releaseAll(err: (key: string) => TenementError): void {
    for (const [key, q] of [...this.queues]) {
      this.queues.delete(key);
      for (const w of q) { clearTimeout(w.timer); w.reject(err(key)); }
    }
  }
}
