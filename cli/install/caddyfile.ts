// The Caddyfile `ten install --caddy` writes: Caddy terminates HTTPS for `{domain}`,
// `{service}.{domain}` and `{id}.{service}.{domain}` and passes every request to ten serve on
// loopback, Host header unchanged (Caddy's reverse_proxy keeps it and adds X-Forwarded-For/-Proto/
// -Host: https://caddyserver.com/docs/caddyfile/directives/reverse_proxy#headers).
//
// Certificates, two ways:
// - on-demand TLS (default): one certificate per host name, obtained at its first handshake, only
//   after Caddy asked tenement `GET /api/tls/ask?domain=NAME` and got a 200
//   (https://caddyserver.com/docs/caddyfile/options#on-demand-tls). Works with Caddy as Debian
//   ships it; the HTTP-01/TLS-ALPN-01 challenges need ports 80 and 443 reachable.
// - a DNS provider (`--caddy-dns PROVIDER`): wildcard certificates (`*.{domain}`, and one
//   `*.{service}.{domain}` per service of the config: a wildcard covers one label only, RFC 6125
//   §6.4.3), through the DNS-01 challenge; needs a Caddy built with that provider's module
//   (github.com/caddy-dns/PROVIDER) and its credentials in Caddy's environment.

/** What the Caddyfile needs; `upstream` is ten serve's `host:port`. */
export interface CaddySpec {
  domain: string;
  upstream: string;
  /** On-demand TLS: the ask URL (tenement's GET /api/tls/ask). */
  ask?: string;
  /** DNS-01 instead: the caddy-dns provider's name and the services (for `*.{service}.{domain}`). */
  dns?: { provider: string; services: string[] };
}

/** The first line of a Caddyfile written by ten install (uninstall removes only such a file). */
export const CADDY_MARKER = '# Written by `ten install`';

/** The Caddyfile's text (tabs, as `caddy fmt` writes them). */
export function renderCaddyfile(c: CaddySpec): string {
  const d = c.domain;
  const out = [
    `${CADDY_MARKER} for ${d}: HTTPS in front of tenement (ten serve at ${c.upstream}).`,
    '# `ten uninstall` removes it, and puts back the Caddyfile it replaced, if there was one.',
  ];
  if (c.dns) {
    const names = [d, `*.${d}`, ...c.dns.services.map((s) => `*.${s}.${d}`)];
    out.push(
      `# Wildcard certificates through ${c.dns.provider}'s DNS (DNS-01): this needs a Caddy built with`,
      `# github.com/caddy-dns/${c.dns.provider}, and its API token in Caddy's environment as DNS_API_TOKEN`,
      '# (see that module\'s README for the exact arguments). A wildcard covers one label: each service has',
      '# its own for `{id}.{service}`; after adding a service, run `ten install --force` again.',
      '',
      `${names.join(', ')} {`,
      '\ttls {',
      `\t\tdns ${c.dns.provider} {env.DNS_API_TOKEN}`,
      '\t}',
    );
  } else {
    out.push(
      '# On-demand TLS: a certificate per host name at its first handshake, only for the names tenement',
      '# says it routes (the ask endpoint answers 200 for the domain, a service of the config and an',
      '# instance that exists; 404 for anything else, so that nobody can make Caddy request certificates',
      '# for made-up names). Caddy needs ports 80 and 443 reachable from the internet for the challenges.',
      '{',
      '\ton_demand_tls {',
      `\t\task ${c.ask}`,
      '\t}',
      '}',
      '',
      `${d}, *.${d}, *.*.${d} {`,
      '\ttls {',
      '\t\ton_demand',
      '\t}',
    );
  }
  out.push(
    `\treverse_proxy ${c.upstream}`,
    '}',
    '',
  );
  return out.join('\n');
}
