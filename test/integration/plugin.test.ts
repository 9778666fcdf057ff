// Acceptance: a third-party balancer file named in tenement.toml replaces the built-in and is used.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanup, fixtureService, ROOT, runCli, startTen, waitFor } from './harness.ts';

after(cleanup);

const example = readFileSync(join(ROOT, 'docs/examples/sticky-first-balancer.js'), 'utf8');

test('a plain .js balancer next to tenement.toml fills the balancer slot and takes the traffic', async () => {
  const ten = await startTen(`${fixtureService('api')}
[instances]
api = ["main", "spare"]

[plugins.balancer]
use = "./sticky-first-balancer.js"
max_inflight = 50
`, { files: { 'sticky-first-balancer.js': example } });
  await waitFor('both running', async () => {
    const l = (await ten.api('GET', '/api/instances')).json().instances as Array<{ state: string }>;
    return l.length === 2 && l.every((i) => i.state === 'running');
  });
  assert.equal((await ten.api('PUT', '/api/instances/api/spare/weight', { weight: 50 })).status, 200);
  // the built-in weighted-balancer would send about a third to spare; this one sends none
  for (let i = 0; i < 200; i++) {
    const r = await ten.get('api.localhost', '/');
    assert.equal(r.status, 200);
    assert.equal(r.json().instance, 'api:main');
  }
  // and it follows the weights: spare becomes the primary
  assert.equal((await ten.api('PUT', '/api/instances/api/spare/weight', { weight: 100 })).status, 200);
  assert.equal((await ten.api('PUT', '/api/instances/api/main/weight', { weight: 10 })).status, 200);
  for (let i = 0; i < 50; i++) assert.equal((await ten.get('api.localhost', '/')).json().instance, 'api:spare');
  assert.match(ten.output(), /"plugin":"sticky-first-balancer","slot":"balancer"/);
});

test('least-connections picked by name replaces weighted-balancer', async () => {
  const ten = await startTen(`${fixtureService('api')}\n[instances]\napi = ["a", "b"]\n\n[plugins.balancer]\nuse = "least-connections"\n`);
  await waitFor('both running', async () => {
    const l = (await ten.api('GET', '/api/instances')).json().instances as Array<{ state: string }>;
    return l.length === 2 && l.every((i) => i.state === 'running');
  });
  // with a slow request holding a, every other request goes to b
  // (long enough to outlast the 30 requests below on a loaded machine)
  const slow = ten.get('a.api.localhost', '/slow?ms=4000');
  await new Promise((r) => setTimeout(r, 100));
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) seen.add((await ten.get('api.localhost', '/')).json().instance);
  assert.deepEqual([...seen], ['api:b']);
  assert.equal((await slow).status, 200);
  assert.match(ten.output(), /"plugin":"least-connections","slot":"balancer"/);
});

test('a balancer or filter that returns something other than a candidate gets 500 TEN_ERR_PLUGIN_FAILED naming it; ten serve keeps serving', async () => {
  // returns a string, another service's instance, a made-up object: each used to crash ten serve
  // deep in the proxy (TypeError) and leave the apps running without their parent
  const wild = `export default { name: 'wild', provides: 'balancer', create() { return { apply(ctx) {
    ctx.hooks.selectInstance.tap(ctx.name, (c, rc) => {
      const h = rc.req.headers['x-wild'];
      if (h === 'string') return 'api:a';
      if (h === 'other') return ctx.registry.get('web', 'w');
      if (h === 'fake') return { ...c[0] };
      return c[0];
    });
  } }; } };`;
  const ten = await startTen(`${fixtureService('api')}\n${fixtureService('web')}\n[instances]\napi = ["a"]\nweb = ["w"]\n\n[plugins.balancer]\nuse = "./wild.js"\n`, { files: { 'wild.js': wild } });
  await waitFor('both running', async () => {
    const l = (await ten.api('GET', '/api/instances')).json().instances as Array<{ state: string }>;
    return l.length === 2 && l.every((i) => i.state === 'running');
  });
  for (const kind of ['string', 'other', 'fake']) {
    const r = await ten.get('api.localhost', '/', { headers: { 'x-wild': kind } });
    assert.equal(r.status, 500, `${kind}: ${r.body}`);
    assert.equal(r.json().code, 'TEN_ERR_PLUGIN_FAILED');
    assert.match(r.json().message, /^plugin wild failed in selectInstance: returned .* not one of the instances of api$/);
  }
  assert.equal((await ten.get('api.localhost', '/')).json().instance, 'api:a');
  assert.equal((await ten.get('a.api.localhost', '/')).status, 200);
  assert.equal(ten.child.exitCode, null, 'ten serve is still running');
});

test('ten serve refuses plugins that fail in apply() or in their routes, naming the plugin (and the table and line for apply)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ten-plugin-'));
  try {
    const cases: Array<[string, RegExp]> = [
      ["apply() { throw new Error('no url'); }", /^error TEN_ERR_PLUGIN_FAILED: plugin bad failed in apply\(\): no url \(plugins\.extra\[0\], tenement\.toml:4\)$/m],
      ["apply(ctx) { ctx.hooks.wake.promise({}); }", /^error TEN_ERR_PLUGIN_FORBIDDEN: plugin bad may not call the wake hook \(promise\).*\(plugins\.extra\[0\], tenement\.toml:4\)$/m],
      ["apply(ctx) { ctx.http.register(async (app) => { app.get('/api/instances', async () => ({})); }); }", /^error TEN_ERR_PLUGIN_FAILED: plugin bad failed in http\.register\(\): Method 'GET' already declared for route '\/api\/instances'/m],
      ["apply(ctx) { ctx.http.register('not a function'); }", /^error TEN_ERR_PLUGIN_FAILED: plugin bad failed in http\.register\(\): needs a fastify plugin/m],
    ];
    for (const [apply, want] of cases) {
      writeFileSync(join(dir, 'bad.js'), `export default { name: 'bad', create() { return { ${apply} }; } };\n`);
      writeFileSync(join(dir, 'tenement.toml'), `[settings]\nlisten = "127.0.0.1"\ndata_dir = "./data"\n[[plugins.extra]]\nuse = "./bad.js"\n`);
      const r = await runCli(['serve', '--config', join(dir, 'tenement.toml'), '--port', '1'], { TENEMENT_LOG_PRETTY: '0' }, dir);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
