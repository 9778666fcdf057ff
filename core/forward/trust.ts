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
