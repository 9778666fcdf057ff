// TLS in the listener ([settings.tls], docs/configuration.md#settingstls): the certificate and key
// files, read and checked as a pair (at config load, at start, and by tls-watch.ts on a renewal),
// and what the plain HTTP listener does when HTTPS is on (a redirect, RFC 9110 §15.4, except what
// must stay plain). HTTP/1.1 only: why not HTTP/2 is in docs/deployment.md#http2.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { type ErrorCode, TenementError } from './errors.ts';
import type { RequestContext, Settings, TlsSettings } from './types.ts';

/** A certificate and its key, read from their files and known to match. */
export interface KeyPair {
  /** The PEM texts as read (the certificate file may hold the chain after the leaf). */
  cert: Buffer;
  key: Buffer;
  /** The leaf's serial number (hex, as OpenSSL prints it). */
  serial: string;
  /** The leaf's notBefore and notAfter (RFC 5280 §4.1.2.5), as ISO 8601 date-times. */
  notBefore: string;
  notAfter: string;
  /** The leaf's subjectAltName entries, e.g. `DNS:*.api.example.com` (the subject CN when there are none). */
  names: string[];
  /** SHA-256 fingerprint of the leaf (colon-separated hex). */
  fingerprint: string;
}

const reason = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied (ten serve reads it as the user it runs as)';
  if (e.code === 'EISDIR') return 'it is a folder';
  if (e.code === 'ERR_OSSL_PEM_NO_START_LINE') return 'no PEM block found (expected -----BEGIN …-----)';
  return e.message ?? String(err);
};

/** The labels of the PEM blocks in `pem` (RFC 7468 §2: `-----BEGIN label-----`), in order. */
export function pemLabels(pem: Buffer): string[] {
  return [...pem.toString('latin1').matchAll(/-----BEGIN ([\x21-\x2c\x2e-\x7e]+(?:[ -][\x21-\x2c\x2e-\x7e]+)*)-----/g)].map((m) => m[1]);
}

/**
 * Why `file` is not the `want` it should be (`want`: 'CERTIFICATE' or 'PRIVATE KEY'), from what it
 * holds: PEM blocks of another kind (a key given as `cert`, or the reverse: "swapped?"), DER
 * (binary ASN.1: a SEQUENCE, 0x30, X.690 §8.9), or nothing PEM at all; `err`'s reason otherwise.
 */
function notA(want: 'CERTIFICATE' | 'PRIVATE KEY', file: Buffer, err: unknown): string {
  const labels = pemLabels(file);
  const other = want === 'CERTIFICATE' ? labels.find((l) => l.endsWith('PRIVATE KEY')) : labels.find((l) => l.endsWith('CERTIFICATE'));
  if (other) return `it holds a ${other}, not a ${want}: are cert and key swapped?`;
  if (labels.length > 0 && !labels.some((l) => l.endsWith(want))) return `it holds ${labels.map((l) => `a ${l}`).join(', ')}, not a ${want}`;
  if (labels.length === 0 && file[0] === 0x30) return `it is DER (binary), not PEM: convert it with openssl ${want === 'CERTIFICATE' ? 'x509' : 'pkey'} -inform der -in FILE -out FILE.pem`;
  return `not a PEM ${want === 'CERTIFICATE' ? 'certificate' : 'private key'}: ${reason(err)}`;
}

/**
 * Read `certPath` (PEM: the certificate, then its intermediates) and `keyPath` (a PEM private key,
 * unencrypted) and check that they are a pair OpenSSL accepts for a server. Returns the pair, or
 * a TenementError: TEN_ERR_TLS_CERT_INVALID, TEN_ERR_TLS_KEY_INVALID (missing, unreadable, not PEM,
 * encrypted) or TEN_ERR_TLS_KEY_MISMATCH; `details.key` says which of `cert` / `key` is at fault,
 * `details.args` are the message's arguments.
 * An expired certificate is a pair all the same (the caller warns): refusing it would take HTTPS
 * down at the moment it most needs to stay up.
 */
export function readKeyPair(certPath: string, keyPath: string): KeyPair | TenementError {
  const certBad = (why: string) => new TenementError('TEN_ERR_TLS_CERT_INVALID', [certPath, why], { key: 'cert', args: [certPath, why] });
  const keyBad = (why: string) => new TenementError('TEN_ERR_TLS_KEY_INVALID', [keyPath, why], { key: 'key', args: [keyPath, why] });
  let cert: Buffer;
  let leaf: X509Certificate;
  try {
    cert = readFileSync(certPath);
  } catch (err) {
    return certBad(reason(err));
  }
  try {
    leaf = new X509Certificate(cert); // the first certificate of the file: the leaf
  } catch (err) {
    return certBad(notA('CERTIFICATE', cert, err));
  }
  let key: Buffer;
  try {
    key = readFileSync(keyPath);
  } catch (err) {
    return keyBad(reason(err));
  }
  // PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional PEM's "Proc-Type: 4,ENCRYPTED" (RFC 1421 §4.6.1.1)
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/.test(key.toString('latin1'))) return keyBad('it is encrypted (ten serve asks for no passphrase)');
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    return keyBad(notA('PRIVATE KEY', key, err));
  }
  if (!leaf.checkPrivateKey(privateKey)) return new TenementError('TEN_ERR_TLS_KEY_MISMATCH', [keyPath, certPath], { key: 'key', args: [keyPath, certPath] });
  try {
    tls.createSecureContext({ cert, key }); // what the listener will do with them (a chain OpenSSL refuses, a weak key)
  } catch (err) { // (X509Certificate reads DER too; the listener wants PEM)
    return certBad((err as NodeJS.ErrnoException).code === 'ERR_OSSL_PEM_NO_START_LINE' ? notA('CERTIFICATE', cert, err) : reason(err));
  }
  return {
    cert, key, serial: leaf.serialNumber, notBefore: new Date(leaf.validFrom).toISOString(), notAfter: new Date(leaf.validTo).toISOString(),
    names: leaf.subjectAltName?.split(', ') ?? [leaf.subject.replace(/\n/g, ', ')], fingerprint: leaf.fingerprint256,
  };
}

/**
 * Whether `pair` (read from `certPath`) is inside its validity period (RFC 5280 §4.1.2.5) at `now`
 * (ms since the epoch): undefined, or TEN_ERR_TLS_CERT_EXPIRED / TEN_ERR_TLS_CERT_NOT_YET_VALID.
 * Neither refuses a certificate at start (the caller warns); a renewal that is not valid is refused
 * while the pair in force is (tls-watch.ts).
 */
export function notValidAt(pair: Pick<KeyPair, 'notBefore' | 'notAfter'>, certPath: string, now: number): TenementError | undefined {
  if (Date.parse(pair.notAfter) < now) return new TenementError('TEN_ERR_TLS_CERT_EXPIRED', [certPath, pair.notAfter]);
  if (Date.parse(pair.notBefore) > now) return new TenementError('TEN_ERR_TLS_CERT_NOT_YET_VALID', [certPath, pair.notBefore]);
  return undefined;
}

/**
 * The checks of [settings.tls] a schema cannot make (called by config.ts parseConfig once the
 * schema passed it): the paths resolved against `dir` (the config file's folder), the files read
 * as a pair (readKeyPair's codes, reported at `settings.tls.cert` / `settings.tls.key` with their
 * line), and the HTTPS port different from the plain one.
 */
export function checkTls(t: TlsSettings, s: Pick<Settings, 'port'>, dir: string,
  fail: (code: ErrorCode, key: 'cert' | 'key' | 'port', args: string[]) => void): void {
  t.cert = path.resolve(dir, t.cert);
  t.key = path.resolve(dir, t.key);
  const pair = readKeyPair(t.cert, t.key);
  if (pair instanceof TenementError) fail(pair.code, pair.details.key as 'cert' | 'key', pair.details.args as string[]);
  if (t.port !== 0 && t.port === s.port) fail('TEN_ERR_CONFIG_INVALID_VALUE', 'port', ['settings.tls.port', `is ${t.port}, the port of the plain HTTP listener (settings.port): give HTTPS a port of its own (443 beside 80, or 8443 beside 8080)`]);
}

/** 127.0.0.0/8, ::1, or either as an IPv4-mapped IPv6 address (what a dual-stack socket reports). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return net.isIPv4(a) ? a.startsWith('127.') : a === '::1';
}

/**
 * What the plain HTTP listener answers when [settings.tls] redirect is on: a redirect to the same
 * host and target on HTTPS, or undefined for a request that stays plain. `o.management`: the
 * request's host is the management host (router.ts parseHost: {domain}, or a host not under it);
 * `o.port`: the HTTPS listener's port. What stays plain, on the management host only:
 * - GET/HEAD /health, from anyone (a load balancer's or a local liveness probe);
 * - anything from a loopback peer (`ten` on the server host reads listen + port from
 *   tenement.toml and speaks plain HTTP; its token never leaves the host).
 * RFC 9110 §15.4.2: a 301 lets a client turn POST into GET; §15.4.9 (308, RFC 7538 first) forbids
 * it. So 301 for GET and HEAD (what every client follows), 308 for every other method, whose body
 * must reach the same target. Location is absolute (RFC 9110 §10.2.2): the Host's name (the
 * client's own, checked before: requestAuthority), the HTTPS port unless it is 443, the target as
 * sent. Called after the request's bounds and Host were checked (listener.ts context()).
 */
export function httpsRedirect(c: RequestContext, o: { domain: string; port: number; management: boolean }): { status: 301 | 308; location: string } | undefined {
  const { req } = c;
  if (o.management) {
    if (isLoopback(req.socket.remoteAddress)) return undefined;
    if ((req.method === 'GET' || req.method === 'HEAD') && c.path.split('?')[0] === '/health') return undefined;
  }
  const name = c.host === '' ? o.domain : c.host; // an HTTP/1.0 request without Host
  const host = name.includes(':') ? `[${name}]` : name;
  const target = c.path === '*' ? '/' : c.path;
  return {
    status: req.method === 'GET' || req.method === 'HEAD' ? 301 : 308,
    location: `https://${host}${o.port === 443 ? '' : `:${o.port}`}${target}`,
  };
}
