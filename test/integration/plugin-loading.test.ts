// Third-party plugins as users write them, loaded by a real `ten serve` from a temp folder with no
// package.json (the harness writes only tenement.toml, the given files and data/ there): an ES
// module .js importing 'tenement', a CommonJS one, and one that deep-imports core. In each way
// tenement runs: `--import tsx` (the harness, `npm start`), tsx's ESM-only register() (bin/ten.js
// on the sources), and the esbuild bundle (bin/ten.js when dist/ is fresh).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { cleanup, fixtureService, request, ROOT, startTen, waitFor } from './harness.ts';

after(cleanup);

/** Sends every balanced request to the instance with id `to`; with an x-refuse header, throws the
 *  server's own TenementError (imported from 'tenement'). Were it another class, the server would
 *  wrap it: 500 TEN_ERR_PLUGIN_FAILED instead of this 503. */
const ESM_PLUGIN = `import { definePlugin, TenementError, Type } from 'tenement';

export default definePlugin({
  name: 'pinned-balancer',
  provides: 'balancer',
  options: Type.Object({ to: Type.String() }, { additionalProperties: false }),
  create(options) {
    return {
      apply(ctx) {
        ctx.log.info({ to: options.to }, 'pinned balancing');
        ctx.hooks.selectInstance.tap(ctx.name, (candidates, rc) => {
          if (rc.req.headers['x-refuse'] !== undefined) throw new TenementError('TEN_ERR_ROUTE_NO_INSTANCE', ['refused-by-plugin']);
          return candidates.find((c) => c.id === options.to) ?? candidates[0];
        });
      },
    };
  },
});
`;

const CJS_PLUGIN = `module.exports = {
  name: 'pinned-cjs',
  provides: 'balancer',
  options: { type: 'object', properties: { to: { type: 'string' } }, required: ['to'] },
  create(options) {
    return { apply(ctx) { ctx.hooks.selectInstance.tap(ctx.name, (candidates) => candidates.find((c) => c.id === options.to) ?? candidates[0]); } };
  },
};
`;

const DEEP_PLUGIN = `import { Registry } from 'tenement/core/registry.ts';
export default { name: 'deep-balancer', provides: 'balancer', create() { return { apply() {} }; } };
`;

const config = (use: string) => `${fixtureService('api')}
[instances]
api = ["a", "b"]

[plugins.balancer]
use = "${use}"
to = "b"
`;

interface Server { port: number; output(): string }

/** Both instances running, then every balanced request goes to api:b. */
async function servesPinned(ten: Server): Promise<void> {
  await waitFor('api:b answers', async () => (await request(ten.port, 'b.api.localhost', '/').catch(() => undefined))?.status === 200, 20_000);
  await waitFor('api:a answers', async () => (await request(ten.port, 'a.api.localhost', '/').catch(() => undefined))?.status === 200, 20_000);
  for (let i = 0; i < 40; i++) {
    const r = await request(ten.port, 'api.localhost', '/');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().instance, 'api:b');
  }
}

/** A TenementError thrown by the plugin reaches the client as itself: identity holds. */
async function refusesWithOwnError(ten: Server): Promise<void> {
  const r = await request(ten.port, 'api.localhost', '/', { headers: { 'x-refuse': '1' } });
  assert.equal(r.status, 503, r.body);
  assert.equal(r.json().code, 'TEN_ERR_ROUTE_NO_INSTANCE');
  assert.match(r.json().message, /no running instance of refused-by-plugin/);
}

const DEEP_REFUSAL = /TEN_ERR_PLUGIN_INVALID_EXPORT: plugin \.\/deep-balancer\.js has an invalid export: import 'tenement\/core\/registry\.ts' in \S+deep-balancer\.js is refused: only 'tenement' itself is public \(core\/index\.ts\); tenement's other modules are internals that change without notice\. Import what you need from 'tenement'/;

describe('ten serve under --import tsx (npm start, the harness)', () => {
  test("an ES module .js plugin importing 'tenement' fills the balancer slot and takes the traffic", async () => {
    const ten = await startTen(config('./pinned-balancer.js'), { files: { 'pinned-balancer.js': ESM_PLUGIN } });
    await servesPinned(ten);
    await refusesWithOwnError(ten);
    assert.match(ten.output(), /"plugin":"pinned-balancer".*"msg":"pinned balancing"/);
  });

  test('a CommonJS plugin (module.exports, .js) takes the traffic', async () => {
    const ten = await startTen(config('./pinned-cjs.js'), { files: { 'pinned-cjs.js': CJS_PLUGIN } });
    await servesPinned(ten);
    assert.match(ten.output(), /"plugin":"pinned-cjs","slot":"balancer"/);
  });

  test('a plugin deep-importing core stops startup with the reason', async () => {
    await assert.rejects(startTen(config('./deep-balancer.js'), { files: { 'deep-balancer.js': DEEP_PLUGIN } }), (e: Error) => {
      assert.match(e.message, /ten serve exited with 1/);
      assert.match(e.message, DEEP_REFUSAL);
      return true;
    });
  });

  test('a plugin whose apply() throws: exit 1 with its error, no shutdown lines of a server that never listened', async () => {
    const failing = `export default { name: 'failing', create() { return { apply() { throw new Error('no database'); } }; } };\n`;
    await assert.rejects(startTen(`${fixtureService('api')}\n[[plugins.extra]]\nuse = "./failing.js"\n`, { files: { 'failing.js': failing } }), (e: Error) => {
      assert.match(e.message, /ten serve exited with 1/);
      assert.match(e.message, /error TEN_ERR_PLUGIN_FAILED: plugin failing failed in apply\(\): no database/);
      assert.doesNotMatch(e.message, /shutting down|"msg":"stopped"|tenement listening/);
      return true;
    });
  });
});

// The other two ways bin/ten.js runs tenement, each started here directly (not through
// bin/ten.js, which picks one by comparing dist/'s age with the sources').
const serve = (node: string[], toml: string, files: Record<string, string>) => startTen(toml, { files, node });

describe("ten serve under tsx's ESM-only register() (bin/ten.js when dist/ is stale)", () => {
  // what bin/ten.js does before importing cli/main.ts
  const registerTsx = `data:text/javascript,${encodeURIComponent(`import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register();`)}`;
  const args = ['--import', registerTsx, join(ROOT, 'cli/main.ts')];

  test("the plugin contract of docs/plugins.md saved as my-balancer.js loads (was: Cannot require() ES Module … in a cycle)", async () => {
    const example = readFileSync(join(ROOT, 'docs/examples/sticky-first-balancer.js'), 'utf8');
    const ten = await serve(args, `${fixtureService('api')}\n[instances]\napi = ["main"]\n\n[plugins.balancer]\nuse = "./my-balancer.js"\n`, { 'my-balancer.js': example });
    await waitFor('api:main answers', async () => (await request(ten.port, 'api.localhost', '/').catch(() => undefined))?.status === 200, 20_000);
    assert.equal((await request(ten.port, 'api.localhost', '/')).json().instance, 'api:main');
    assert.match(ten.output(), /"plugin":"sticky-first-balancer","slot":"balancer"/);
  });

  test("an ES module plugin importing 'tenement' and a CommonJS one take the traffic", async () => {
    const esm = await serve(args, config('./pinned-balancer.js'), { 'pinned-balancer.js': ESM_PLUGIN });
    await servesPinned(esm);
    await refusesWithOwnError(esm);
    await servesPinned(await serve(args, config('./pinned-cjs.js'), { 'pinned-cjs.js': CJS_PLUGIN }));
  });
});

describe('ten serve from the bundle (scripts/build-cli.mjs, plain node)', () => {
  // Built into a folder of its own inside the repository (as dist/ is: the bundle finds
  // ../package.json and node_modules from there), so dist/ and bin/ten.js are left alone.
  let outdir: string;
  before(async () => {
    outdir = mkdtempSync(join(ROOT, '.test-dist-'));
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/build-cli.mjs'), basename(outdir)], { cwd: ROOT, timeout: 120_000 });
  });
  after(() => rmSync(outdir, { recursive: true, force: true }));

  test("the bundle carries the module hooks and imports no TypeScript file and no 'tenement'", () => {
    assert.equal(readFileSync(join(outdir, 'module-hooks.mjs'), 'utf8'), readFileSync(join(ROOT, 'core/module-hooks.mjs'), 'utf8'));
    const specifiers = readdirSync(outdir).filter((f) => f.endsWith('.js')).flatMap((f) => {
      const text = readFileSync(join(outdir, f), 'utf8');
      // esbuild's output: `import … from "x";` (or `} from "x";` closing a multi-line one), `import("x")`
      return [...text.matchAll(/^(?:import|export|\})[^\n]*?\bfrom\s*"([^"]+)"|\bimport\("([^"]+)"\)/gm)].map((m) => m[1] ?? m[2]);
    });
    assert.ok(specifiers.includes('better-sqlite3') && specifiers.some((s) => s.startsWith('./chunk-')), specifiers.join(' '));
    assert.deepEqual(specifiers.filter((s) => s === 'tenement' || s.startsWith('tenement/') || s.endsWith('.ts')), []);
  });

  test("an ES module plugin importing 'tenement' takes the traffic, its errors are the server's; a CommonJS one too", async () => {
    const main = join(outdir, 'main.js');
    const esm = await serve([main], config('./pinned-balancer.js'), { 'pinned-balancer.js': ESM_PLUGIN });
    await servesPinned(esm);
    await refusesWithOwnError(esm);
    await servesPinned(await serve([main], config('./pinned-cjs.js'), { 'pinned-cjs.js': CJS_PLUGIN }));
  });

  test('a plugin deep-importing core stops startup with the reason', async () => {
    await assert.rejects(serve([join(outdir, 'main.js')], config('./deep-balancer.js'), { 'deep-balancer.js': DEEP_PLUGIN }), (e: Error) => {
      assert.match(e.message, /ten serve exited with 1/);
      assert.match(e.message, DEEP_REFUSAL);
      return true;
    });
  });
});
