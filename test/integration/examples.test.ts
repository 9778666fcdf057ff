// Acceptance (issue 12): `ten init` in each example directory produces a config that `ten serve`
// runs. Each example is copied to a temp folder (the examples hold no tenement.toml), where
// `ten init --port P` writes the file, `ten config` accepts it, `ten serve` runs it as is, and a
// request through the proxy reaches the app. Each example's README session is run by the docs
// runner (test/docs/docs.test.ts), with the other pages' sessions.
// The Node example imports fastify: in the repository it resolves from tenement's node_modules;
// the copy gets a node_modules symlink to them, as `npm install` would give it its own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../../core/net.ts';
import { killLeftovers, request, ROOT, runCli, sleep, waitFor } from './harness.ts';

const EXAMPLES = ['node-app', 'python-app', 'notes'] as const;
/** What a copy leaves out: what running an example in place writes. */
const WRITTEN = new Set(['tenement.toml', 'tenement-data', 'serve.log', 'node_modules', '__pycache__']);

const temp = mkdtempSync(join(tmpdir(), 'ten-examples-'));
// run as root, ten serve starts the apps as nobody: they must reach their folder
chmodSync(temp, 0o755);
const copies: string[] = [];
after(() => {
  for (const c of copies) killLeftovers(join(c, 'tenement-data'));
  rmSync(temp, { recursive: true, force: true });
});

/** A fresh copy of examples/NAME under the temp folder. */
function copy(name: string, as: string): string {
  const dir = join(temp, as, name);
  cpSync(join(ROOT, 'examples', name), dir, { recursive: true, filter: (src) => !WRITTEN.has(src.split('/').pop()!) });
  chmodSync(join(temp, as), 0o755);
  if (existsSync(join(dir, 'package.json'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  copies.push(dir);
  return dir;
}

/** `ten serve` in `dir` (its ./tenement.toml), once it says it listens and answers /health. */
async function serve(dir: string, port: number): Promise<{ stop(): Promise<number | null>; output(): string }> {
  let out = '';
  const child = spawn(process.execPath, [join(ROOT, 'bin/ten.js'), 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TENEMENT_LOG_PRETTY: '0' } });
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return Promise.race([exit, sleep(20_000, { unref: true }).then(() => { child.kill('SIGKILL'); return exit; })]);
  };
  await waitFor(`ten serve on port ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`ten serve exited with ${child.exitCode}:\n${out}`);
    return out.includes('tenement listening') && request(port, 'localhost', '/health').then((r) => r.status === 200, () => false);
  }, 30_000).catch(async (err: Error) => { await stop(); throw new Error(`${err.message}\n${out.slice(-2000)}`); });
  return { stop, output: () => out };
}

/** The service name `ten init` picks for each example (its manifest's name). */
const SERVICE: Record<(typeof EXAMPLES)[number], string> = { 'node-app': 'node-app', 'python-app': 'python-app', notes: 'notes' };

describe('ten init in each example directory: a config that ten serve runs as is', { concurrency: true }, () => {
  for (const name of EXAMPLES) {
    test(name, async () => {
      const dir = copy(name, `init-${name}`);
      const port = await freePort(new Set());
      const init = await runCli(['init', '--port', String(port)], {}, dir);
      assert.equal(init.code, 0, init.stderr);
      assert.match(init.stdout, new RegExp(`^service {4}${SERVICE[name]}: `, 'm'));
      assert.match(init.stdout, /^health {5}GET \/health$/m, 'the health path is found in the entry file');
      const config = await runCli(['config', '--json'], {}, dir);
      assert.equal(config.code, 0, config.stderr);
      assert.equal(JSON.parse(config.stdout).settings.port, port);

      const ten = await serve(dir, port);
      try {
        const host = `${SERVICE[name]}.localhost`;
        const r = await request(port, host, '/');
        assert.equal(r.status, 200, r.body);
        if (name === 'notes') {
          assert.deepEqual(r.json(), { tenant: 'prod', notes: 0 });
          const made = await request(port, `prod.${host}`, '/notes', { method: 'POST', body: 'first note' });
          assert.equal(made.status, 201, made.body);
          assert.equal((await request(port, host, '/notes')).json()[0].text, 'first note');
        } else {
          assert.equal(r.json().instance, `${SERVICE[name]}:prod`);
        }
      } finally {
        assert.equal(await ten.stop(), 0, ten.output().slice(-2000));
      }
    });
  }
});
