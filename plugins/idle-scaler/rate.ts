// The spawn_rate table: how many instances each client address created in its current window,
// per service. Bounded: at most `max` addresses are tracked at once; an address whose window has
// ended takes no room. When every slot is taken by a window still running, a new address is
// refused (fail closed) rather than an old one forgotten: forgetting would hand a client with
// more addresses than the table holds a fresh allowance on every pass.
import net from 'node:net';

/** The verdict on one creation: allowed (call `commit()` once the instance exists), or refused
 *  for `retryAfter` seconds because the address used its allowance (`rate`) or the table is full. */
export type RateVerdict =
  | { ok: true; commit(): void }
  | { ok: false; why: 'rate' | 'full'; retryAfter: number; count: number };

interface Window { start: number; count: number; ms: number }

export class RateTable {
  /** service + ' ' + address key → its window. Insertion order = order windows started. */
  private readonly windows = new Map<string, Window>();
  /** No tracked window ends before this (ms epoch): a full table is not scanned again until then. */
  private nextEnd = 0;

  constructor(private readonly max: number) {}

  /** Addresses tracked now (windows not yet pruned included). */
  get size(): number {
    return this.windows.size;
  }

  /**
   * May `address` create one more instance of `service`: at most `rate` per window of `windowMs`
   * that starts at its first creation (fixed window; `rate` 0 = no limit, nothing tracked).
   * Nothing is counted until `commit()`.
   */
  check(service: string, address: string, rate: number, windowMs: number, now = Date.now()): RateVerdict {
    if (rate <= 0) return { ok: true, commit: () => undefined };
    const key = `${service} ${addressKey(address)}`;
    let w = this.windows.get(key);
    if (w && now - w.start >= w.ms) {
      this.windows.delete(key);
      w = undefined;
    }
    if (w && w.count >= rate) return { ok: false, why: 'rate', retryAfter: (w.start + w.ms - now) / 1000, count: w.count };
    if (!w && this.windows.size >= this.max) {
      if (now >= this.nextEnd) this.prune(now);
      if (this.windows.size >= this.max) return { ok: false, why: 'full', retryAfter: (this.nextEnd - now) / 1000, count: 0 };
    }
    return {
      ok: true,
      commit: () => {
        const cur = this.windows.get(key);
        if (cur) cur.count += 1;
        else {
          this.windows.set(key, { start: now, count: 1, ms: windowMs });
          this.nextEnd = Math.min(this.nextEnd, now + windowMs);
        }
      },
    };
  }

  /** Drop the windows that have ended (the scaler's sweep calls it too). */
  prune(now = Date.now()): void {
    let soonest = Infinity;
    for (const [k, w] of this.windows) {
      if (now - w.start >= w.ms) this.windows.delete(k);
      else soonest = Math.min(soonest, w.start + w.ms);
    }
    this.nextEnd = soonest;
  }
}

/**
 * What one client is, for the limit: an IPv4 address as is (also written IPv4-mapped,
 * `::ffff:a.b.c.d`); an IPv6 address by its /64 prefix
 * (one subscriber or host usually holds a whole /64: counting its addresses one by one would give
 * it 2^64 allowances, RFC 6177 §2); anything else (e.g. '' when unknown) as is.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && net.isIPv4(mapped[1])) return mapped[1];
  if (net.isIPv6(address)) return `${expand(address).slice(0, 4).join(':')}::/64`;
  return address;
}

/** The eight 16-bit groups of an IPv6 address, as lowercase hex without leading zeros. */
function expand(address: string): string[] {
  let a = address.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a); // ::ffff:1.2.3.4 and the like: the last 32 bits
  if (v4) a = a.slice(0, v4.index) + [(+v4[1] << 8) | +v4[2], (+v4[3] << 8) | +v4[4]].map((n) => n.toString(16)).join(':');
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16));
}
