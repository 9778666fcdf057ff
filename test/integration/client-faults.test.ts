// The CLI against addresses that are not a working ten serve: whatever the peer does (never
// answers, answers 101, half an answer, garbage, another HTTP server, a full accept queue), every
// command ends within its timeouts with a `error TEN_ERR_*` line and exit 1, never Node's exit 13
// (a promise nothing settles) or a silent wait of minutes. Issue 13.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from './harness.ts';

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const cwd = mkdtempSync(join(tmpdir(), 'ten-client-faults-'));

/** A loopback TCP server that does `onData` with what the client sent; its port. */
async function peer(onConnect: (c: net.Socket) => void): Promise<number> {
  const srv = net.createServer((c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c)).on('error', () => {});
    onConnect(c);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as net.AddressInfo).port;
}
const onRequest = (answer: string, end: boolean) => (c: net.Socket) => c.once('data', () => (end ? c.end(answer) : c.write(answer)));

const ten = (port: number, ...args: string[]) =>
  runCli([...args, '--server', `http://127.0.0.1:${port}`], { TENEMENT_TOKEN: 'x.y' }, cwd);

/** Exit 1 and one `error CODE: …` line naming `reason`. */
function failsWith(r: { code: number; stderr: string }, code: string, reason: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^error ${code}: `, 'm'), r.stderr);
  assert.match(r.stderr, reason, r.stderr);
}

after(() => {
  for (const c of sockets) c.destroy();
  for (const s of servers) s.close();
  rmSync(cwd, { recursive: true, force: true });
});

describe('the CLI against a peer that is not a working ten serve', () => {
  let silent: number;
  before(async () => { silent = await peer(() => {}); });

  test('one that accepts and never answers: a notice after 2 s, TEN_ERR_CLI_TIMEOUT at --request-timeout', async () => {
    const r = await ten(silent, 'ps', '--request-timeout', '3');
    failsWith(r, 'TEN_ERR_CLI_TIMEOUT', /did not answer in time: no answer to GET \/api\/instances within 3 s/);
    assert.match(r.stderr, /^waiting for ten serve at http:\/\/127\.0\.0\.1:\d+ to answer GET \/api\/instances \(2 s so far; gives up after 3 s, --request-timeout\)$/m);
    assert.match(r.stderr, /hint: .*--request-timeout/);
  });

  test('TENEMENT_REQUEST_TIMEOUT sets it too; a bad value is refused before anything is sent', async () => {
    const r = await runCli(['ps', '--server', `http://127.0.0.1:${silent}`], { TENEMENT_TOKEN: 'x.y', TENEMENT_REQUEST_TIMEOUT: '1500ms' }, cwd);
    failsWith(r, 'TEN_ERR_CLI_TIMEOUT', /within 1\.5 s/);
    const bad = await runCli(['ps', '--server', `http://127.0.0.1:${silent}`], { TENEMENT_TOKEN: 'x.y', TENEMENT_REQUEST_TIMEOUT: 'soon' }, cwd);
    failsWith(bad, 'TEN_ERR_CLI_INVALID_ARGUMENT', /invalid TENEMENT_REQUEST_TIMEOUT "soon"/);
  });

  test('a log stream to it ends the same way', async () => {
    const r = await ten(silent, 'logs', '-f', '--request-timeout', '1');
    failsWith(r, 'TEN_ERR_CLI_SERVER_UNREACHABLE', /no answer within 1 s/);
  });

  test('101 Switching Protocols (Node left this request unsettled: exit 13)', async () => {
    const port = await peer(onRequest('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n', false));
    failsWith(await ten(port, 'ps'), 'TEN_ERR_CLI_SERVER_UNREACHABLE', /it answered 101 Switching Protocols/);
    failsWith(await ten(port, 'logs', '-f'), 'TEN_ERR_CLI_SERVER_UNREACHABLE', /it answered 101 Switching Protocols/);
  });

  test('half an answer, then silence or a close', async () => {
    const half = 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nx-tenement-api: 1\r\n\r\n{"inst';
    failsWith(await ten(await peer(onRequest(half, false)), 'ps', '--request-timeout', '1'), 'TEN_ERR_CLI_TIMEOUT', /within 1 s/);
    failsWith(await ten(await peer(onRequest(half, true)), 'ps'), 'TEN_ERR_CLI_SERVER_UNREACHABLE', /\((ECONNRESET|the connection closed before the whole answer)\)/);
  });

  test('a close at once, garbage, another HTTP server', async () => {
    failsWith(await ten(await peer((c) => c.destroy()), 'ps'), 'TEN_ERR_CLI_SERVER_UNREACHABLE', /\((ECONNRESET|the connection closed without an answer)\)/);
    failsWith(await ten(await peer(onRequest('garbage\r\n\r\n', true)), 'ps'), 'TEN_ERR_CLI_SERVER_UNREACHABLE', /\(HPE_/);
    const other = http.createServer((_q, s) => s.writeHead(200, { 'content-type': 'application/json' }).end('{"instances":[]}'));
    servers.push(other);
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const port = (other.address() as net.AddressInfo).port;
    failsWith(await ten(port, 'ps'), 'TEN_ERR_CLI_SERVER_UNREACHABLE', /HTTP 200 from GET \/api\/instances is not a ten serve API answer/);
  });

  test('an answer with ten serve\'s headers in another shape: TEN_ERR_CLI_BAD_ANSWER (was `error: instances.map is not a function`)', async () => {
    const port = await peer(onRequest('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-tenement-api: 0.0.1\r\ncontent-length: 20\r\n\r\n{"instances":"nope"}', true));
    failsWith(await ten(port, 'ps'), 'TEN_ERR_CLI_BAD_ANSWER', /answered GET \/api\/instances with what this ten cannot read \(.*is not a function\)/);
  });

  test('a log stream answered 200 with something else than an event stream, that never ends (ten logs -f hung)', async () => {
    const port = await peer(onRequest('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-tenement-api: 1\r\ntransfer-encoding: chunked\r\n\r\n1\r\n{\r\n', false));
    failsWith(await ten(port, 'logs', '-f'), 'TEN_ERR_CLI_SERVER_UNREACHABLE', /HTTP 200 from GET \/api\/logs\/stream is not an event stream \(content-type application\/json\)/);
  });

  test('a listener whose accept queue is full: TEN_ERR_CLI_SERVER_UNREACHABLE at --connect-timeout', async (t) => {
    // A listener with backlog 0 that never accepts, filled by two connections: the kernel drops
    // further SYNs (listen(2)), so a connect neither succeeds nor fails until the client gives up.
    const py = 'import socket,time\ns=socket.socket();s.bind(("127.0.0.1",0));s.listen(0)\nf=[]\nfor i in range(3):\n c=socket.socket();c.setblocking(False)\n try: c.connect(s.getsockname())\n except BlockingIOError: pass\n f.append(c)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(20)\n';
    if (spawnSync('python3', ['-c', '1']).status !== 0) return t.skip('python3 is needed to hold a listener that never accepts');
    const child = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => { child.kill('SIGKILL'); });
    const port = Number(await new Promise<string>((r) => child.stdout.once('data', (d) => r(String(d)))));
    const r = await ten(port, 'ps', '--connect-timeout', '2.5');
    failsWith(r, 'TEN_ERR_CLI_SERVER_UNREACHABLE', /no connection within 2\.5 s/);
    // while it connects, the notice names the bound that applies (it named --request-timeout's 30 s)
    assert.match(r.stderr, /^waiting for a connection to ten serve at http:\/\/127\.0\.0\.1:\d+ \(2 s so far; gives up after 2\.5 s, --connect-timeout\)$/m);
  });
});
