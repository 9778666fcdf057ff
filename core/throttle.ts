// Failed-auth throttling of the management API (docs/access.md#throttling): per client address, at
// most `auth_fail_limit` failed authentications (401) in a window of `auth_fail_window` seconds
// that starts at the first failure; beyond, that address gets 429 with Retry-After (RFC 6585 §4,
// RFC 9110 §10.2.3) until the window ends, before its token is even looked at. Never a global
// lockout: other addresses are not affected, and the right token works again once the window is
// over. The table is bounded (`auth_fail_clients` addresses; the oldest entry goes first).
import { isIPv4, isIPv6 } from 'node:net';

interface Entry { failures: number; until: number }

/**
 * The client an address counts as: the socket's peer address as the kernel reports it (never a
 * header: X-Forwarded-For is the client's to write). IPv4 as is (an IPv4-mapped IPv6 address
 * `::ffff:a.b.c.d` is its IPv4 address); IPv6 by its /64 prefix, the block one host or customer
 * usually gets (RFC 6177), so that cycling addresses inside it does not escape the limit; a Unix
 * socket peer (no address) is `unix`.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unix';
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return address.slice(7);
  if (!isIPv6(address)) return address;
  return `${expand(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, as lowercase hex without leading zeros. */
function expand(a: string): string[] {
  const zone = a.indexOf('%');
  const addr = (zone < 0 ? a : a.slice(0, zone)).toLowerCase();
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const part = (s: string | undefined) => (s ? s.split(':') : []);
  const h = part(head);
  const t = part(tail);
  // a trailing dotted IPv4 part counts as two groups
  const last = (t.length ? t : h).at(-1);
  if (last?.includes('.')) {
    const [w, x, y, z] = last.split('.').map(Number);
    (t.length ? t : h).splice(-1, 1, ((w << 8) | x).toString(16), ((y << 8) | z).toString(16));
  }
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16).toString(16));
}

export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();

  /** `limit` failures per `windowMs` per address; `maxClients` addresses remembered at most. */
  constructor(private readonly limit: number, private readonly windowMs: number, private readonly maxClients: number) {}

  /** Seconds the address must wait (for Retry-After, at least 1), or 0 when it may try. */
  blocked(key: string, now = Date.now()): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    if (e.until <= now) {
      this.entries.delete(key);
      return 0;
    }
    return e.failures >= this.limit ? Math.max(1, Math.ceil((e.until - now) / 1000)) : 0;
  }

  /** Count a failed authentication; true when it is the one that reached the limit (log it once). */
  fail(key: string, now = Date.now()): boolean {
    let e = this.entries.get(key);
    if (e && e.until <= now) {
      this.entries.delete(key);
      e = undefined;
    }
    if (!e) {
      // the oldest entry goes: a Map iterates in insertion order
      while (this.entries.size >= this.maxClients) this.entries.delete(this.entries.keys().next().value!);
      e = { failures: 0, until: now + this.windowMs };
      this.entries.set(key, e);
    }
    e.failures += 1;
    return e.failures === this.limit;
  }

  /** Addresses in the table now (at most maxClients). */
  get size(): number {
    return this.entries.size;
  }
}
