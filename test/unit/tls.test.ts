// core/tls.ts: the plain listener's answer when [settings.tls] redirect is on (which requests stay
// plain, the status by method: RFC 9110 §15.4.2, §15.4.9, the Location), and the checks of the
// certificate and key files at config load (a self-signed certificate made with openssl).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseConfig } from '../../core/config.ts';
import { TenementError } from '../../core/errors.ts';
import { parseHost } from '../../core/router.ts';
import { certWarnings, servedNames, uncoveredNames } from '../../core/tls-names.ts';
import { httpsRedirect, isLoopback, notValidAt, readKeyPair } from '../../core/tls.ts';
import type { RequestContext } from '../../core/types.ts';

const OPENSSL = '/usr/bin/openssl';

/** A request as the listener hands it over: its method, peer, and the checked host and target. */
const ask = (o: { host: string; path?: string; method?: string; peer?: string }, port = 8443) => {
  const req = { method: o.method ?? 'GET', socket: { remoteAddress: o.peer ?? '203.0.113.9' } } as unknown as http.IncomingMessage;
  const ctx = { req, host: o.host, authority: o.host, path: o.path ?? '/' } as RequestContext;
  return httpsRedirect(ctx, { domain: 'example.com', port, management: parseHost(o.host, 'example.com').kind === 'management' });
};

test('service hosts go to the same host and target on HTTPS: 301 for GET and HEAD, 308 for the rest', () => {
  assert.deepEqual(ask({ host: 'a.api.example.com', path: '/x?y=1' }), { status: 301, location: 'https://a.api.example.com:8443/x?y=1' });
  assert.deepEqual(ask({ host: 'api.example.com', method: 'HEAD' }), { status: 301, location: 'https://api.example.com:8443/' });
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) assert.equal(ask({ host: 'api.example.com', method })?.status, 308, method);
  // from loopback too: only the management host stays plain for local clients
  assert.equal(ask({ host: 'api.example.com', peer: '127.0.0.1' })?.status, 301);
});

test('port 443 is left out of Location; an IPv6 literal is bracketed; no Host (HTTP/1.0) means the domain', () => {
  assert.equal(ask({ host: 'api.example.com' }, 443)?.location, 'https://api.example.com/');
  assert.equal(ask({ host: '2001:db8::1', path: '/p' }, 443)?.location, 'https://[2001:db8::1]/p');
  assert.equal(ask({ host: '' }, 443)?.location, 'https://example.com/');
  assert.equal(ask({ host: 'api.example.com', method: 'OPTIONS', path: '*' }, 443)?.location, 'https://api.example.com/');
});

test('the management host stays plain for loopback peers, and for GET/HEAD /health from anyone', () => {
  for (const peer of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(ask({ host: 'example.com', path: '/api/instances', peer }), undefined, peer);
  assert.equal(ask({ host: 'example.com', path: '/health' }), undefined);
  assert.equal(ask({ host: 'example.com', path: '/health?full=1', method: 'HEAD' }), undefined);
  assert.deepEqual(ask({ host: 'example.com', path: '/api/instances' }), { status: 301, location: 'https://example.com:8443/api/instances' });
  assert.equal(ask({ host: 'example.com', path: '/health', method: 'POST' })?.status, 308);
  // a host not under the domain is the management host too (seed 000's table)
  assert.equal(ask({ host: 'other.org', path: '/', peer: '::1' }), undefined);
  assert.equal(ask({ host: 'other.org', path: '/' })?.location, 'https://other.org:8443/');
});

test('isLoopback: 127.0.0.0/8 and ::1, also IPv4-mapped; nothing else', () => {
  for (const a of ['127.0.0.1', '127.255.0.1', '::1', '::ffff:127.0.0.2']) assert.ok(isLoopback(a), a);
  for (const a of ['10.0.0.1', '::2', '::ffff:10.0.0.1', '128.0.0.1', '', undefined, 'localhost']) assert.ok(!isLoopback(a), String(a));
});

describe('[settings.tls] in the config: the files read as a pair, with their key and line', { skip: existsSync(OPENSSL) ? false : `needs ${OPENSSL} to make a test certificate` }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ten-tls-unit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]) => execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const parse = (tls: string, settings = '') => parseConfig(`[settings]\n${settings}\n[settings.tls]\n${tls}\n`, join(dir, 'tenement.toml'));
  const refused = (fn: () => unknown): { code: string; message: string; key: unknown; line: unknown } => {
    try {
      fn();
    } catch (err) {
      const e = err as TenementError;
      return { code: e.code, message: e.message, key: e.details.key, line: e.details.line };
    }
    throw new Error('the config was accepted');
  };

  test('a good pair: paths resolved against the file\'s folder, port 8443 and redirect on by default', () => {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=*.api.example.com');
    const c = parse('cert = "cert.pem"\nkey = "./key.pem"');
    assert.deepEqual({ ...c.settings.tls }, { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), port: 8443, redirect: true });
    const pair = readKeyPair(join(dir, 'cert.pem'), join(dir, 'key.pem'));
    assert.ok(!(pair instanceof TenementError));
    assert.deepEqual(pair.names, ['CN=*.api.example.com']);
  });

  test('the HTTPS port may not be the plain one; unknown keys get a suggestion', () => {
    assert.deepEqual(refused(() => parse('cert = "cert.pem"\nkey = "key.pem"\nport = 8080', 'port = 8080')),
      { code: 'TEN_ERR_CONFIG_INVALID_VALUE', key: 'settings.tls.port', line: 6, message: refused(() => parse('cert = "cert.pem"\nkey = "key.pem"\nport = 8080', 'port = 8080')).message });
    assert.match(refused(() => parse('cert = "cert.pem"\nkey = "key.pem"\nport = 8080', 'port = 8080')).message, /settings\.tls\.port is 8080, the port of the plain HTTP listener/);
    assert.match(refused(() => parse('cert = "cert.pem"\nkey = "key.pem"\nports = 1')).message, /unknown key settings\.tls\.ports \(did you mean "port"\?\)/);
    assert.equal(refused(() => parse('cert = "cert.pem"')).code, 'TEN_ERR_CONFIG_MISSING_KEY');
  });

  test('not PEM, encrypted, or not a pair: each its code, at cert or key', () => {
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
    assert.deepEqual(refused(() => parse('cert = "junk.pem"\nkey = "key.pem"')), {
      code: 'TEN_ERR_TLS_CERT_INVALID', key: 'settings.tls.cert', line: 4,
      message: `the certificate ${join(dir, 'junk.pem')} cannot be used: not a PEM certificate: no PEM block found (expected -----BEGIN …-----) (tenement.toml:4)`,
    });
    openssl('pkey', '-in', 'key.pem', '-aes256', '-passout', 'pass:secret', '-out', 'locked.pem');
    const locked = refused(() => parse('cert = "cert.pem"\nkey = "locked.pem"'));
    assert.equal(locked.code, 'TEN_ERR_TLS_KEY_INVALID');
    assert.equal(locked.key, 'settings.tls.key');
    assert.match(locked.message, /it is encrypted \(ten serve asks for no passphrase\) \(tenement\.toml:5\)$/);
    openssl('genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other.pem');
    assert.equal(refused(() => parse('cert = "cert.pem"\nkey = "other.pem"')).code, 'TEN_ERR_TLS_KEY_MISMATCH');
  });

  test('a file of the other kind says what it holds: a key given as cert (or the reverse) asks whether they are swapped; DER is named', () => {
    assert.match(refused(() => parse('cert = "key.pem"\nkey = "key.pem"')).message,
      /the certificate .*key\.pem cannot be used: it holds a PRIVATE KEY, not a CERTIFICATE: are cert and key swapped\? \(tenement\.toml:4\)$/);
    assert.match(refused(() => parse('cert = "cert.pem"\nkey = "cert.pem"')).message,
      /the private key .*cert\.pem cannot be used: it holds a CERTIFICATE, not a PRIVATE KEY: are cert and key swapped\? \(tenement\.toml:5\)$/);
    openssl('req', '-new', '-key', 'key.pem', '-out', 'req.csr', '-subj', '/CN=x');
    assert.match(refused(() => parse('cert = "req.csr"\nkey = "key.pem"')).message, /it holds a CERTIFICATE REQUEST, not a CERTIFICATE \(/);
    openssl('x509', '-in', 'cert.pem', '-outform', 'der', '-out', 'cert.der');
    assert.match(refused(() => parse('cert = "cert.der"\nkey = "key.pem"')).message, /it is DER \(binary\), not PEM: convert it with openssl x509 -inform der/);
  });

  /** A self-signed certificate with these subjectAltName DNS names (none: the CN only); its PEM. */
  const withNames = (name: string, dns: string[], cn = 'tenement'): Buffer => {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${cn}`,
      ...(dns.length ? ['-addext', `subjectAltName=${dns.map((d) => `DNS:${d}`).join(',')}`] : []));
    return readFileSync(join(dir, `${name}.pem`));
  };
  const left = (cert: Buffer, domain = 'example.com', services = ['api', 'web']) => uncoveredNames(cert, servedNames(domain, services)).map((n) => n.name);

  test('servedNames: {domain}, and {service}.{domain} and *.{service}.{domain} per service, with what each is for', () => {
    assert.deepEqual(servedNames('Example.com', ['api']), [
      { name: 'example.com', what: 'the dashboard and the API' },
      { name: 'api.example.com', what: 'service api' },
      { name: '*.api.example.com', what: '{id}.api.example.com: the instances of api' },
    ]);
  });

  test('uncoveredNames: a wildcard covers exactly one label (RFC 6125 §6.4.3), a list of ids is not *.{service}, *.localhost covers nothing', () => {
    assert.deepEqual(left(withNames('all', ['example.com', '*.example.com', '*.api.example.com', '*.web.example.com'])), []);
    // only *.{domain}: the services are covered, their instances' {id}.{service}.{domain} hosts are not
    assert.deepEqual(left(withNames('dom', ['*.example.com', 'example.com'])), ['*.api.example.com', '*.web.example.com']);
    // *.{service}.{domain} does not cover {service}.{domain}, nor {domain}; names are matched without case
    assert.deepEqual(left(withNames('svc', ['*.API.example.com', 'api.example.com'])), ['example.com', 'web.example.com', '*.web.example.com']);
    // a certificate naming some ids leaves *.{service}.{domain} uncovered (a new id would not be)
    assert.deepEqual(left(withNames('ids', ['example.com', 'api.example.com', 'a.api.example.com']), 'example.com', ['api']), ['*.api.example.com']);
    // another domain: none; partial and multi-label wildcards are not accepted, nor *.localhost (clients refuse it)
    assert.deepEqual(left(withNames('other', ['*.other.test'])).length, 5);
    assert.deepEqual(left(withNames('partial', ['ap*.example.com', 'example.com']), 'example.com', ['api']), ['api.example.com', '*.api.example.com']);
    assert.deepEqual(left(withNames('local', ['*.localhost', '*.api.localhost']), 'localhost', ['api']), ['localhost', 'api.localhost']);
    // no subjectAltName: the subject CN, as Node's clients match it
    assert.deepEqual(left(withNames('cn', [], '*.example.com'), 'example.com', ['api']), ['example.com', '*.api.example.com']);
  });

  test('notValidAt and certWarnings: expired, not yet valid, and the uncovered names, each with its code', () => {
    const dates = { notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-04-01T00:00:00.000Z' };
    assert.equal(notValidAt(dates, 'c.pem', Date.parse('2026-02-01T00:00:00Z')), undefined);
    assert.equal(notValidAt(dates, 'c.pem', Date.parse('2026-04-01T00:00:01Z'))?.message, 'the certificate c.pem expired on 2026-04-01T00:00:00.000Z');
    assert.equal(notValidAt(dates, 'c.pem', Date.parse('2025-12-31T23:59:59Z'))?.code, 'TEN_ERR_TLS_CERT_NOT_YET_VALID');
    withNames('warn', ['*.example.com']);
    const pair = readKeyPair(join(dir, 'warn.pem'), join(dir, 'warn.key'));
    assert.ok(!(pair instanceof TenementError));
    const later = Date.parse(pair.notAfter) + 1000;
    assert.deepEqual(certWarnings(pair, 'warn.pem', servedNames('example.com', ['api']), later).map((w) => [w.code, w.message]), [
      ['TEN_ERR_TLS_CERT_EXPIRED', `the certificate warn.pem expired on ${pair.notAfter}`],
      ['TEN_ERR_TLS_CERT_NAMES', 'the certificate warn.pem does not cover example.com (the dashboard and the API), *.api.example.com ({id}.api.example.com: the instances of api)'],
    ]);
  });
});
