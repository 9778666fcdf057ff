// The plain listener's answer when [settings.tls] redirect is on (core/tls.ts httpsRedirect): which
// requests stay plain, the status by method (RFC 9110 §15.4.2, §15.4.9) and the Location.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { httpsRedirect, isLoopback } from '../../core/tls.ts';
import type { RequestContext } from '../../core/types.ts';

/** A request as the listener hands it over: its method, peer, and the checked host and target. */
const ask = (o: { host: string; path?: string; method?: string; peer?: string }, port = 8443) => {
  const req = { method: o.method ?? 'GET', socket: { remoteAddress: o.peer ?? '203.0.113.9' } } as unknown as http.IncomingMessage;
  const ctx = { req, host: o.host, authority: o.host, path: o.path ?? '/' } as RequestContext;
  return httpsRedirect(ctx, req, 'example.com', port);
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
