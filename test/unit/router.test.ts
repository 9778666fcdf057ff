// Host parsing (hostName, parseHost) against the seed routing table, plus Router.pick over real
// hooks and a real registry on a temp SQLite store.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { parseConfig } from '../../core/config.ts';
import { TenementError } from '../../core/errors.ts';
import { createHooks } from '../../core/hooks.ts';
import { Registry } from '../../core/registry.ts';
import { hostName, parseHost, Router } from '../../core/router.ts';
import { Store } from '../../core/store.ts';
import type { Instance, RequestContext } from '../../core/types.ts';

/** DNS labels as the registry accepts them: [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? */
const dnsLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);

describe('hostName()', () => {
  test('undefined and empty give the empty string', () => {
    assert.equal(hostName(undefined), '');
    assert.equal(hostName(''), '');
  });

  test('strips a port', () => {
    assert.equal(hostName('api.example.com:8080'), 'api.example.com');
    assert.equal(hostName('localhost:80'), 'localhost');
    assert.equal(hostName('127.0.0.1:8000'), '127.0.0.1');
  });

  test('IPv6: brackets and port are removed, a bare address is kept whole', () => {
    assert.equal(hostName('[::1]:8080'), '::1');
    assert.equal(hostName('[::1]'), '::1');
    assert.equal(hostName('[2001:DB8::1]:443'), '2001:db8::1');
    assert.equal(hostName('::1'), '::1');
  });

  test('lowercases', () => {
    assert.equal(hostName('API.Example.COM'), 'api.example.com');
    assert.equal(hostName('V2.API.EXAMPLE.COM:9000'), 'v2.api.example.com');
  });

  test('drops one trailing dot (fully qualified form), also before a port', () => {
    assert.equal(hostName('example.com.'), 'example.com');
    assert.equal(hostName('api.example.com.:8080'), 'api.example.com');
  });

  test('trims surrounding whitespace', () => {
    assert.equal(hostName('  api.example.com  '), 'api.example.com');
  });

  test('property: hostName(h:port) = hostName(h) = lowercase h for DNS names', () => {
    fc.assert(fc.property(fc.array(dnsLabel, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 65535 }), (labels, port) => {
      const h = labels.join('.');
      assert.equal(hostName(h), h);
      assert.equal(hostName(`${h}:${port}`), h);
      assert.equal(hostName(`${h.toUpperCase()}.:${port}`), h);
    }));
  });
});

describe('parseHost() — the seed routing table', () => {
  for (const domain of ['localhost', 'example.com']) {
    describe(`domain ${domain}`, () => {
      test('{id}.{service}.{domain} → one instance', () => {
        assert.deepEqual(parseHost(`v2.api.${domain}`, domain), { kind: 'service', service: 'api', instanceId: 'v2' });
      });
      test('{service}.{domain} → balanced service', () => {
        assert.deepEqual(parseHost(`api.${domain}`, domain), { kind: 'service', service: 'api' });
      });
      test('{domain} → management', () => {
        assert.deepEqual(parseHost(domain, domain), { kind: 'management' });
      });
      test('an IP → management', () => {
        assert.deepEqual(parseHost('127.0.0.1', domain), { kind: 'management' });
        assert.deepEqual(parseHost('::1', domain), { kind: 'management' });
      });
      test('the empty host (no Host header) → management', () => {
        assert.deepEqual(parseHost('', domain), { kind: 'management' });
      });
      test('deeper names → a service target that cannot exist (not a DNS label)', () => {
        const t = parseHost(`a.b.api.${domain}`, domain);
        assert.equal(t.kind, 'service');
        assert.ok(t.kind === 'service');
        assert.equal(t.instanceId, undefined);
        assert.notEqual(t.service, 'api');
        assert.ok(!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(t.service), `"${t.service}" must not be a valid service name`);
      });
    });
  }

  test('localhost when the domain is example.com → management', () => {
    assert.deepEqual(parseHost('localhost', 'example.com'), { kind: 'management' });
    assert.deepEqual(parseHost('api.localhost', 'example.com'), { kind: 'management' });
  });

  test('a host that merely ends with the domain text is not under it', () => {
    assert.deepEqual(parseHost('notexample.com', 'example.com'), { kind: 'management' });
    assert.deepEqual(parseHost('api.notexample.com', 'example.com'), { kind: 'management' });
  });

  test('property: parseHost(`${i}.${s}.example.com`) = {service: s, instanceId: i}', () => {
    fc.assert(fc.property(dnsLabel, dnsLabel, (s, i) => {
      assert.deepEqual(parseHost(`${i}.${s}.example.com`, 'example.com'), { kind: 'service', service: s, instanceId: i });
    }), { numRuns: 500 });
  });

  test('property: parseHost(`${s}.example.com`) = {service: s}', () => {
    fc.assert(fc.property(dnsLabel, (s) => {
      assert.deepEqual(parseHost(`${s}.example.com`, 'example.com'), { kind: 'service', service: s });
    }));
  });

  test('property: hostName then parseHost is insensitive to case, port and trailing dot', () => {
    fc.assert(fc.property(dnsLabel, dnsLabel, fc.integer({ min: 1, max: 65535 }), (s, i, port) => {
      const raw = `${i}.${s}.Example.COM.:${port}`.toUpperCase();
      assert.deepEqual(parseHost(hostName(raw), 'example.com'), { kind: 'service', service: s, instanceId: i });
    }));
  });
});

describe('Router (real hooks, real registry on a temp store)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-router-'));
  const store = new Store(join(dir, 'data'));
  after(() => { store.close(); rmSync(dir, { recursive: true, force: true }); });

  const config = parseConfig('[settings]\ndomain = "example.com"\n[service.api]\ncommand = "node app.js"\n', join(dir, 'tenement.toml'));
  const hooks = createHooks(pino({ level: 'silent' }));
  const registry = new Registry(hooks, store);
  const router = new Router({ config, registry, hooks });
  // a plain first-candidate balancer so the core filter is what we observe
  hooks.selectInstance.tap('first', (c) => c[0]);

  const run = (inst: Instance) => { registry.transition(inst, 'starting', 'test'); registry.transition(inst, 'running', 'test'); };
  const v1 = registry.create('api', 'v1', 0);
  const v2 = registry.create('api', 'v2', 50);
  registry.create('api', 'v3', 50);
  const v4 = registry.create('api', 'v4', 50);
  run(v1); run(v2); run(v4);
  v2.ejectedUntil = Date.now() + 60_000;
  // v1: weight 0; v2: ejected; v3: stopped; v4: the only eligible one

  const ctx = (host: string): RequestContext => ({ req: new IncomingMessage(new Socket()), host, authority: host, path: '/', upgrade: false, start: performance.now() });

  test('resolve() runs the core host parser, synchronously when nothing taps resolveTarget', async () => {
    assert.deepEqual(router.resolve(ctx('v2.api.example.com')), { kind: 'service', service: 'api', instanceId: 'v2' });
    assert.deepEqual(router.resolve(ctx('example.com')), { kind: 'management' });
  });

  test('a resolveTarget tap refines the parsed target, which it finds in ctx.target', async () => {
    const h = createHooks(pino({ level: 'silent' }));
    const r = new Router({ config, registry: new Registry(h, store), hooks: h });
    const seen: unknown[] = [];
    h.resolveTarget.tapPromise('path-router', async (c) => {
      seen.push(c.target);
      return c.path === '/other' ? { kind: 'service', service: 'other' } : undefined;
    });
    assert.deepEqual(await r.resolve({ ...ctx('api.example.com'), path: '/other' }), { kind: 'service', service: 'other' });
    assert.deepEqual(await r.resolve(ctx('api.example.com')), { kind: 'service', service: 'api' });
    assert.deepEqual(seen, [{ kind: 'service', service: 'api' }, { kind: 'service', service: 'api' }]);
  });

  test('routable() holds running instances with a weight; the core filter then drops ejected ones', async () => {
    assert.deepEqual(registry.routable('api').map((i) => i.id), ['v2', 'v4']);
    assert.deepEqual(hooks.filterCandidates.call([...registry.routable('api')], ctx('api.example.com')).map((i) => i.id), ['v4']);
    assert.equal(await router.pick(ctx('api.example.com'), { kind: 'service', service: 'api' }), v4);
  });

  test('a direct route reaches a running instance even with weight 0', async () => {
    assert.equal(await router.pick(ctx('v1.api.example.com'), { kind: 'service', service: 'api', instanceId: 'v1' }), v1);
  });

  test('unknown service → TEN_ERR_ROUTE_UNKNOWN_SERVICE (404)', async () => {
    await assert.rejects(router.pick(ctx('nope.example.com'), { kind: 'service', service: 'nope' }),
      (e: unknown) => e instanceof TenementError && e.code === 'TEN_ERR_ROUTE_UNKNOWN_SERVICE' && e.statusCode === 404);
    await assert.rejects(router.pick(ctx('a.b.api.example.com'), parseHost('a.b.api.example.com', 'example.com') as { kind: 'service'; service: string }),
      (e: unknown) => e instanceof TenementError && e.code === 'TEN_ERR_ROUTE_UNKNOWN_SERVICE');
  });

  test('unknown instance → TEN_ERR_ROUTE_UNKNOWN_INSTANCE (404)', async () => {
    await assert.rejects(router.pick(ctx('zz.api.example.com'), { kind: 'service', service: 'api', instanceId: 'zz' }),
      (e: unknown) => e instanceof TenementError && e.code === 'TEN_ERR_ROUTE_UNKNOWN_INSTANCE' && e.statusCode === 404);
  });

  test('a stopped instance with no scaler → TEN_ERR_ROUTE_NO_INSTANCE (503)', async () => {
    await assert.rejects(router.pick(ctx('v3.api.example.com'), { kind: 'service', service: 'api', instanceId: 'v3' }),
      (e: unknown) => e instanceof TenementError && e.code === 'TEN_ERR_ROUTE_NO_INSTANCE' && e.statusCode === 503);
  });

  test('excluding the only candidate (retry) → TEN_ERR_ROUTE_NO_INSTANCE', async () => {
    await assert.rejects(router.pick(ctx('api.example.com'), { kind: 'service', service: 'api' }, v4),
      (e: unknown) => e instanceof TenementError && e.code === 'TEN_ERR_ROUTE_NO_INSTANCE');
  });
});
