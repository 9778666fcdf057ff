// The header rules of core/forward/headers.ts and trust.ts, as pure functions over raw lists.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { requestHeaders, responseHeaders, type ClientInfo } from '../../core/forward/headers.ts';
import { parseCidr, trustList } from '../../core/forward/trust.ts';

const client = (o: Partial<ClientInfo> = {}): ClientInfo => ({
  peer: '127.0.0.1', trusted: false, authority: 'api.localhost:8080', port: 8080, forwarded: false, httpVersion: '1.1', maxForwards: false, proto: 'http', ...o,
});

/** The pairs of a flat list, for readable assertions. */
const pairs = (flat: string[]) => Array.from({ length: flat.length / 2 }, (_, i) => `${flat[2 * i]}: ${flat[2 * i + 1]}`);

describe('requestHeaders', () => {
  test('hop-by-hop fields and those Connection names are dropped; TE keeps only trailers (RFC 9110 §7.6.1, §10.1.4)', () => {
    const out = requestHeaders([
      'Host', 'api.localhost:8080', 'Connection', 'keep-alive, X-Foo', 'X-Foo', 'secret', 'Keep-Alive', 'timeout=5',
      'Proxy-Connection', 'keep-alive', 'TE', 'trailers, deflate', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c',
      'Proxy-Authorization', 'Basic x', 'HTTP2-Settings', 'AAAA', 'X-Keep', '1',
    ], client());
    assert.deepEqual(pairs(out), [
      'Host: api.localhost:8080', 'te: trailers', 'X-Keep: 1',
      'x-forwarded-for: 127.0.0.1', 'x-forwarded-proto: http', 'x-forwarded-host: api.localhost:8080', 'x-forwarded-port: 8080',
      'via: 1.1 tenement',
    ]);
  });

  test('end-to-end fields keep their order, case and duplicates', () => {
    const out = requestHeaders(['Host', 'h', 'X-Dup', 'a', 'accept', '*/*', 'X-Dup', 'b', 'Cookie', 'a=1', 'Cookie', 'b=2'], client({ authority: 'h' }));
    assert.deepEqual(pairs(out).slice(0, 6), ['Host: h', 'X-Dup: a', 'accept: */*', 'X-Dup: b', 'Cookie: a=1', 'Cookie: b=2']);
  });

  test('client-supplied X-Forwarded-* and Forwarded are replaced when the peer is not trusted', () => {
    const out = requestHeaders(['Host', 'h', 'X-Forwarded-For', '6.6.6.6', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Port', '1',
      'X-Forwarded-Host', 'evil', 'Forwarded', 'for=6.6.6.6'], client({ authority: 'h', forwarded: true }));
    assert.deepEqual(pairs(out), ['Host: h', 'x-forwarded-for: 127.0.0.1', 'x-forwarded-proto: http', 'x-forwarded-host: h',
      'x-forwarded-port: 8080', 'forwarded: for=127.0.0.1;host=h;proto=http', 'via: 1.1 tenement']);
  });

  test('a trusted peer\'s values are extended (For, Forwarded) or kept (Proto, Host, Port)', () => {
    const out = requestHeaders(['Host', 'h', 'X-Forwarded-For', '6.6.6.6', 'x-forwarded-for', '7.7.7.7', 'X-Forwarded-Proto', 'https',
      'X-Forwarded-Port', '443', 'Forwarded', 'for=6.6.6.6'], client({ authority: 'h', trusted: true, forwarded: true }));
    assert.deepEqual(pairs(out), ['Host: h', 'x-forwarded-for: 6.6.6.6, 7.7.7.7, 127.0.0.1', 'x-forwarded-proto: https',
      'x-forwarded-host: h', 'x-forwarded-port: 443', 'forwarded: for=6.6.6.6, for=127.0.0.1;host=h;proto=http', 'via: 1.1 tenement']);
  });

  test('a request that came over TLS says https in X-Forwarded-Proto and Forwarded proto= (RFC 7239 §5.4); a trusted peer\'s Proto still wins', () => {
    const out = requestHeaders(['Host', 'h', 'X-Forwarded-Proto', 'http'], client({ authority: 'h', port: 8443, proto: 'https', forwarded: true }));
    assert.deepEqual(pairs(out), ['Host: h', 'x-forwarded-for: 127.0.0.1', 'x-forwarded-proto: https', 'x-forwarded-host: h',
      'x-forwarded-port: 8443', 'forwarded: for=127.0.0.1;host=h;proto=https', 'via: 1.1 tenement']);
    const behind = requestHeaders(['Host', 'h', 'X-Forwarded-Proto', 'http'], client({ authority: 'h', proto: 'https', trusted: true }));
    assert.ok(pairs(behind).includes('x-forwarded-proto: http'));
  });

  test('Forwarded quotes IPv6 nodes and non-token hosts (RFC 7239 §6); IPv4-mapped peers are written as IPv4', () => {
    const v6 = requestHeaders([], client({ peer: '::1', authority: 'api.localhost:8080', forwarded: true }));
    assert.ok(pairs(v6).includes('forwarded: for="[::1]";host="api.localhost:8080";proto=http'), pairs(v6).join('\n'));
    const mapped = requestHeaders([], client({ peer: '::ffff:10.1.2.3' }));
    assert.ok(pairs(mapped).includes('x-forwarded-for: 10.1.2.3'));
  });

  test('Max-Forwards is decremented on TRACE/OPTIONS only (RFC 9110 §7.6.2); Via names the received version', () => {
    assert.ok(pairs(requestHeaders(['Max-Forwards', '5'], client({ maxForwards: true }))).includes('Max-Forwards: 4'));
    assert.ok(pairs(requestHeaders(['Max-Forwards', '5'], client())).includes('Max-Forwards: 5'));
    assert.ok(pairs(requestHeaders([], client({ httpVersion: '1.0' }))).includes('via: 1.0 tenement'));
  });

  test('an absolute-form target\'s authority replaces Host (RFC 9112 §3.2.2)', () => {
    const out = requestHeaders(['Host', 'wrong'], client(), 'api.localhost');
    assert.deepEqual(pairs(out).slice(0, 1), ['Host: api.localhost']);
    assert.ok(pairs(out).includes('x-forwarded-host: api.localhost'));
  });
});

describe('responseHeaders', () => {
  test('drops what the app\'s Connection names and the hop-by-hop set; keeps duplicates; adds Via and extras', () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'x-secret, close', 'X-Secret', '1', 'Keep-Alive', 'timeout=5',
      'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Transfer-Encoding', 'chunked', 'Proxy-Authenticate', 'Basic'].map((s) => Buffer.from(s, 'latin1'));
    assert.deepEqual(pairs(responseHeaders(raw, ['set-cookie', 'sticky=x'])),
      ['Content-Type: text/plain', 'Set-Cookie: a=1', 'Set-Cookie: b=2', 'via: 1.1 tenement', 'set-cookie: sticky=x']);
  });

  test('bytes above 0x7f pass through unchanged (latin1 both ways)', () => {
    const out = responseHeaders([Buffer.from('X-Name'), Buffer.from([0x63, 0x61, 0x66, 0xe9])]);
    assert.equal(Buffer.from(out[1], 'latin1').toString('hex'), '636166e9');
  });
});

describe('trusted_proxies', () => {
  test('CIDRs and bare addresses, IPv4 and IPv6; mapped IPv4 peers match IPv4 ranges', () => {
    const t = trustList(['10.0.0.0/8', '::1/128', '192.168.1.7']);
    assert.deepEqual(['10.9.9.9', '11.0.0.1', '::1', '::2', '192.168.1.7', '192.168.1.8', '::ffff:10.0.0.1', undefined].map(t),
      [true, false, true, false, true, false, true, false]);
    assert.equal(trustList([])('127.0.0.1'), false);
  });

  test('parseCidr rejects what is not an address or a prefix in range', () => {
    for (const bad of ['10.0.0.0/33', '::1/129', 'localhost', '10.0.0/8', '10.0.0.0/x', '']) assert.equal(parseCidr(bad), undefined, bad);
    assert.deepEqual(parseCidr('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
  });
});
