// The idle-scaler's spawn_rate table (plugins/idle-scaler/rate.ts) and the client address the
// router hands the wake hook (core/forward/trust.ts): fixed windows per address and service,
// bounded and failing closed, IPv6 by /64, X-Forwarded-For believed only from trusted proxies.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientAddress, trustList } from '../../core/forward/trust.ts';
import { addressKey, RateTable } from '../../plugins/idle-scaler/rate.ts';

const T0 = 1_000_000;

describe('RateTable', () => {
  test('at most `rate` creations per window from the first; nothing counts until commit(); a new window after', () => {
    const t = new RateTable(10);
    for (let i = 0; i < 3; i++) {
      const v = t.check('svc', '192.0.2.1', 3, 60_000, T0 + i);
      assert.ok(v.ok);
      v.commit();
    }
    const refused = t.check('svc', '192.0.2.1', 3, 60_000, T0 + 10_000);
    assert.deepEqual(refused, { ok: false, why: 'rate', retryAfter: 50, count: 3 });
    assert.ok(t.check('svc', '192.0.2.1', 3, 60_000, T0 + 60_000).ok, 'the window ended');
    // checked but never committed: not counted
    for (let i = 0; i < 5; i++) assert.ok(t.check('svc', '192.0.2.2', 1, 60_000, T0).ok);
    // another service, another count
    assert.ok(t.check('other', '192.0.2.1', 3, 60_000, T0 + 10_000).ok);
  });

  test('rate 0 is no limit and tracks nothing', () => {
    const t = new RateTable(1);
    for (let i = 0; i < 100; i++) {
      const v = t.check('svc', `10.0.0.${i}`, 0, 60_000, T0);
      assert.ok(v.ok);
      v.commit();
    }
    assert.equal(t.size, 0);
  });

  test('bounded: a full table refuses new addresses until a window ends, and keeps the ones it has', () => {
    const t = new RateTable(3);
    for (const [i, a] of ['10.0.0.1', '10.0.0.2', '10.0.0.3'].entries()) {
      const v = t.check('svc', a, 2, 60_000, T0 + i * 1000);
      assert.ok(v.ok);
      v.commit();
    }
    for (let i = 0; i < 10_000; i++) {
      const v = t.check('svc', `10.1.${i >> 8}.${i & 255}`, 2, 60_000, T0 + 5000);
      assert.equal(v.ok, false);
      assert.equal(!v.ok && v.why, 'full');
    }
    assert.equal(t.size, 3, 'never above max');
    const full = t.check('svc', '10.9.9.9', 2, 60_000, T0 + 5000);
    assert.ok(!full.ok && full.retryAfter === 55, 'Retry-After: until the first window ends');
    assert.ok(t.check('svc', '10.0.0.2', 2, 60_000, T0 + 5000).ok, 'an address already in the table goes on');
    const later = t.check('svc', '10.9.9.9', 2, 60_000, T0 + 60_000);
    assert.ok(later.ok, 'the first window ended: room again');
    later.commit();
    assert.equal(t.size, 3);
  });
});

describe('addressKey', () => {
  test('IPv4 as is; IPv6 by its /64, whatever its spelling', () => {
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:0DB8:0000:0000:ffff:1:2:3'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:db8:0:1::1'), '2001:db8:0:1::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1:2:3:4'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey(''), '');
  });
});

describe('clientAddress', () => {
  const trusted = trustList(['127.0.0.1', '10.0.0.0/8']);
  test('an untrusted peer is the client, whatever it says in X-Forwarded-For', () => {
    assert.equal(clientAddress('192.0.2.9', ['X-Forwarded-For', '1.2.3.4'], trusted), '192.0.2.9');
    assert.equal(clientAddress('::ffff:192.0.2.9', [], trusted), '192.0.2.9');
    assert.equal(clientAddress(undefined, [], trusted), '');
  });
  test('behind trusted proxies: the nearest untrusted hop, read from the right', () => {
    assert.equal(clientAddress('127.0.0.1', ['x-forwarded-for', '6.6.6.6, 198.51.100.4'], trusted), '198.51.100.4');
    assert.equal(clientAddress('127.0.0.1', ['X-Forwarded-For', '6.6.6.6', 'X-Forwarded-For', '198.51.100.4, 10.1.1.1'], trusted), '198.51.100.4');
    assert.equal(clientAddress('127.0.0.1', ['X-Forwarded-For', '[2001:db8::5]'], trusted), '2001:db8::5');
    assert.equal(clientAddress('127.0.0.1', [], trusted), '127.0.0.1', 'no header: the proxy itself');
    assert.equal(clientAddress('127.0.0.1', ['X-Forwarded-For', 'garbage, 10.2.2.2'], trusted), '10.2.2.2', 'a malformed hop stops the walk');
  });
});
