// Which of the names tenement serves a [settings.tls] certificate covers, and the warnings about a
// certificate in force (out of its dates, names left uncovered) said at start, by `ten config`, by
// `ten doctor` and on a renewal (tls-watch.ts). Host names are matched by OpenSSL
// (X509Certificate#checkHost, as clients match them: RFC 6125 §6.4.3, a wildcard is the whole
// left-most label and covers exactly one label; OpenSSL also refuses a wildcard right above a
// top-level label such as *.localhost, as Node's and browsers' clients do).
import { X509Certificate } from 'node:crypto';
import { TenementError } from './errors.ts';
import { notValidAt, type KeyPair } from './tls.ts';

/** One name tenement answers to: a host, or `*.{service}.{domain}` for the instances of a service. */
export interface ServedName {
  /** e.g. `example.com`, `api.example.com`, `*.api.example.com` (lower case). */
  name: string;
  /** What it is for, as a warning says it: `the dashboard and the API`, `{id}.api.example.com: the instances of api`. */
  what: string;
}

/**
 * The names of seed 000's host scheme for `domain` and `services`: `{domain}` (the management
 * host), `{service}.{domain}` (the service, balanced; a `*.{domain}` certificate name covers them
 * all) and `*.{service}.{domain}` (its instances by id: a name of their own, as a wildcard covers
 * one label only).
 */
export function servedNames(domain: string, services: readonly string[]): ServedName[] {
  const d = domain.toLowerCase();
  return [
    { name: d, what: 'the dashboard and the API' },
    ...services.flatMap((s) => [
      { name: `${s}.${d}`, what: `service ${s}` },
      { name: `*.${s}.${d}`, what: `{id}.${s}.${d}: the instances of ${s}` },
    ]),
  ];
}

/** The DNS names a client matches (the subjectAltName's, or the subject CN when it has none). */
function dnsNames(leaf: X509Certificate): string[] {
  const san = leaf.subjectAltName?.split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4).toLowerCase()) ?? [];
  if (san.length > 0) return san;
  return leaf.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3).toLowerCase());
}

/**
 * The names of `served` that the leaf certificate of `cert` (PEM) does not cover. A host is
 * covered when a client accepts the certificate for it (checkHost); `*.{service}.{domain}` when
 * the certificate has that very wildcard (a list of ids is not all of them) and clients accept it.
 */
export function uncoveredNames(cert: Buffer, served: readonly ServedName[]): ServedName[] {
  const leaf = new X509Certificate(cert);
  const names = dnsNames(leaf);
  const covers = (host: string) => leaf.checkHost(host, { subject: 'default', wildcards: true, partialWildcards: false, multiLabelWildcards: false }) !== undefined;
  return served.filter((s) => !(s.name.startsWith('*.') ? names.includes(s.name) && covers(`x${s.name.slice(1)}`) : covers(s.name)));
}

/** `name (what), …`: the names a warning lists. */
export function listNames(names: readonly ServedName[]): string {
  return names.map((n) => `${n.name} (${n.what})`).join(', ');
}

/**
 * What to warn about the certificate `pair` read from `certPath`, given the names tenement serves:
 * TEN_ERR_TLS_CERT_EXPIRED / TEN_ERR_TLS_CERT_NOT_YET_VALID (notValidAt) and TEN_ERR_TLS_CERT_NAMES
 * naming the uncovered names. Warnings, not refusals: a start with them keeps HTTPS up for what is
 * covered (ten serve's log, `ten config`, `ten doctor` say them).
 */
export function certWarnings(pair: KeyPair, certPath: string, served: readonly ServedName[], now: number): TenementError[] {
  const out: TenementError[] = [];
  const dates = notValidAt(pair, certPath, now);
  if (dates) out.push(dates);
  const left = uncoveredNames(pair.cert, served);
  if (left.length > 0) out.push(new TenementError('TEN_ERR_TLS_CERT_NAMES', [certPath, listNames(left)], { uncovered: left.map((n) => n.name) }));
  return out;
}
