// [settings] api_listen on a real ten serve with the real `ten` binary (docs/access.md#api_listen):
// the API and the dashboard move to a loopback address or a Unix socket (0600), the {domain} host
// keeps GET /health only, and `ten` finds the API from tenement.toml with no --server.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../../core/net.ts';
import { cleanup, fixtureService, runCli, startTen, type Ten } from './harness.ts';

after(cleanup);

/** GET `path` over `to` (a TCP port on 127.0.0.1, or a socket path) with the Host `host`. */
function get(to: number | string, path: string, token: string | null, host = 'localhost'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const where = typeof to === 'number' ? { host: '127.0.0.1', port: to } : { socketPath: to };
    const req = http.get({ ...where, path, agent: false, headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}

/** `ten ARGS` in the server's folder, where tenement.toml is: no --server, no token given. */
const ten_ = (ten: Ten, ...args: string[]) => runCli(args, { TENEMENT_SERVER: '', TENEMENT_TOKEN: '', TENEMENT_CONFIG: '' }, ten.dir);

/** What both listeners show: the public one only /health, the API one everything. */
async function moved(ten: Ten, api: number | string): Promise<void> {
  assert.equal((await get(ten.port, '/health', null)).status, 200, 'the {domain} host keeps GET /health');
  for (const path of ['/api/instances', '/', '/metrics', '/api/whoami']) {
    const r = await get(ten.port, path, ten.token);
    assert.equal(r.status, 404, path);
    assert.equal(JSON.parse(r.body).code, 'TEN_ERR_API_ELSEWHERE', path);
  }
  assert.equal(JSON.parse((await get(ten.port, '/', null, 'web.localhost')).body).code, 'TEN_ERR_ROUTE_NO_INSTANCE', 'service hosts still route (no instance yet)');
  const list = await get(api, '/api/instances', ten.token, 'anything.example');
  assert.equal(list.status, 200, 'any Host reaches the API on its own listener');
  assert.equal((await get(api, '/api/instances', null)).status, 401, 'the token is still needed');
  assert.equal((await get(api, '/', null)).status, 200, 'the dashboard moved too');
  const ps = await ten_(ten, 'spawn', 'web:one');
  assert.equal(ps.code, 0, ps.stderr);
  const made = await ten_(ten, 'token', 'create', '--tenant', 'one');
  assert.equal(made.code, 0, made.stderr);
  const ls = await ten_(ten, 'ps');
  assert.match(ls.stdout, /^INSTANCE .*\nweb:one /);
}

test('api_listen = "127.0.0.1:PORT": the API there, `ten` finds it', async () => {
  const port = await freePort(new Set());
  const ten = await startTen(`[settings]\napi_listen = "127.0.0.1:${port}"\n${fixtureService('web')}`);
  await moved(ten, port);
  assert.match(ten.output(), new RegExp(`"api":"127\\.0\\.0\\.1:${port}"`));
});

test('api_listen = "unix:…": a 0600 socket, `ten` over it, removed at shutdown', async () => {
  const ten = await startTen(`[settings]\napi_listen = "unix:run/ten.sock"\n${fixtureService('web')}`);
  const sock = join(ten.dir, 'run/ten.sock');
  const st = statSync(sock);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600, 'only the owner (ten serve\'s user) may connect');
  await moved(ten, sock);
  const debug = await ten_(ten, 'ps', '--debug');
  assert.match(debug.stderr, new RegExp(`^debug: GET unix:${sock} /api/instances -> 200`, 'm'));
  assert.equal(await ten.stop(), 0);
  assert.equal(existsSync(sock), false, 'the socket file is removed');
  // a stale socket file (as a killed ten serve leaves: bound, nobody accepting) is replaced at the next start
  execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', sock]);
  assert.ok(statSync(sock).isSocket());
  const again = await ten.restart();
  assert.ok(statSync(sock).isSocket());
  assert.equal((await get(sock, '/api/instances', again.token)).status, 200);
});

test('a non-loopback api_listen is refused, naming the key and its line', async () => {
  const port = await freePort(new Set());
  const dir = mkdtempSync(join(tmpdir(), 'ten-api-listen-'));
  try {
    writeFileSync(join(dir, 'tenement.toml'), `[settings]\ndata_dir = "./data"\napi_listen = "0.0.0.0:${port}"\n`);
    const serve = await runCli(['serve', '--config', join(dir, 'tenement.toml')], {}, dir);
    assert.equal(serve.code, 1);
    assert.match(serve.stderr, /TEN_ERR_CONFIG_INVALID_VALUE: settings\.api_listen "0\.0\.0\.0:\d+" is not a loopback address/);
    assert.match(serve.stderr, /tenement\.toml:3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
