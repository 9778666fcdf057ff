// Which peers may speak for a client: `[settings] trusted_proxies` (CIDRs). Only their
// X-Forwarded-* / Forwarded headers are believed and extended; everyone else's are replaced.
import net from 'node:net';

/** `"10.0.0.0/8"`, `"::1/128"` or a bare address → its parts; undefined when invalid. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = cidr.indexOf('/');
  const address = slash < 0 ? cidr : cidr.slice(0, slash);
  const v = net.isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : cidr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** A peer-address test built once from the config. `trusted(addr)` is false for an empty list. */
export function trustList(cidrs: readonly string[]): (address: string | undefined) => boolean {
  if (cidrs.length === 0) return () => false;
  const list = new net.BlockList();
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (p) list.addSubnet(p.address, p.prefix, p.family);
  }
  return (address) => {
    if (!address) return false;
    // a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d
    if (address.startsWith('::ffff:') && net.isIPv4(address.slice(7))) return list.check(address.slice(7), 'ipv4');
    return list.check(address, net.isIPv4(address) ? 'ipv4' : 'ipv6');
  };
}

/** An address as limits key on it: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a
 *  dual-stack listener reports) written as IPv4; a zone (`%eth0`) dropped; others unchanged. */
export function plainAddress(address: string): string {
  const a = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  const zone = a.indexOf('%');
  return zone < 0 ? a : a.slice(0, zone);
}

/**
 * The client a request speaks for: the connection's peer, unless the peer is trusted
 * (`[settings] trusted_proxies`): then X-Forwarded-For is read from its right end, skipping
 * trusted addresses, and the first one that is not trusted is the client (what each trusted hop
 * appended; entries left of it are the client's own say and not believed). A malformed entry
 * stops the walk at the last trusted address. Written with plainAddress(); '' when unknown.
 */
export function clientAddress(peer: string | undefined, rawHeaders: readonly string[], trusted: (address: string | undefined) => boolean): string {
  let client = plainAddress(peer ?? '');
  if (!trusted(peer)) return client;
  const hops: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].length === 15 && rawHeaders[i].toLowerCase() === 'x-forwarded-for') hops.push(...rawHeaders[i + 1].split(','));
  }
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i].trim().replace(/^\[(.*)\]$/, '$1');
    if (net.isIP(hop) === 0) break;
    client = plainAddress(hop);
    if (!trusted(hop)) break;
  }
  return client;
}
