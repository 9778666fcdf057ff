// The CLI against a fake management API: requests sent, output printed, server errors relayed,
// token lookup. Runs the commands in-process through runCli with captured stdout/stderr.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cli } from 'clipanion';
import { runCli } from '../../cli/index.ts';
import { resolveToken } from '../../cli/client.ts';
import type { InstanceView } from '../../cli/types.ts';

const TOKEN = 'secret-token';
const requests: string[] = [];
const instances = new Map<string, InstanceView & { polls: number }>();

function view(service: string, id: string, weight = 100): InstanceView & { polls: number } {
  return { service, id, key: `${service}:${id}`, state: 'starting', health: 'unknown', weight, port: 41234, pid: 1234,
    socket: '127.0.0.1:41234', uptime_s: null, started_at: null, restarts: 0, inflight: 0, last_exit: null, polls: 0 };
}
const strip = ({ polls: _, ...v }: InstanceView & { polls: number }): InstanceView => v;

const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  requests.push(`${req.method} ${req.url}${body ? ` ${body}` : ''}`);
  const send = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  if (req.url === '/health') return send(200, { status: 'ok', version: '0.1.0' });
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { code: 'TEN_ERR_API_UNAUTHORIZED', message: 'missing or invalid API token', hint: 'pass --token' });
  const m = /^\/api\/instances(?:\/([^/?]+)\/([^/?]+)(\/\w+)?)?(?:\?service=(\w+))?$/.exec(req.url ?? '');
  if (!m) return res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>nope</h1>');
  const [, service, id, action, filter] = m;
  if (!service) {
    if (req.method === 'POST') {
      const b = JSON.parse(body) as { service: string; id: string; weight?: number };
      const inst = view(b.service, b.id, b.weight);
      instances.set(inst.key, inst);
      return send(201, strip(inst));
    }
    return send(200, { instances: [...instances.values()].filter((i) => !filter || i.service === filter).map(strip) });
  }
  const inst = instances.get(`${service}:${id}`);
  if (!inst) return send(404, { code: 'TEN_ERR_INSTANCE_NOT_FOUND', message: `instance ${service}:${id} not found`, hint: 'list instances with `ten ps`' });
  if (req.method === 'GET' && ++inst.polls >= 2) Object.assign(inst, { state: inst.service === 'bad' ? 'failed' : 'running', health: 'healthy', uptime_s: 5 });
  if (action === '/weight') inst.weight = (JSON.parse(body) as { weight: number }).weight;
  if (action === '/health') return send(200, { instance: strip(inst), probe: { ok: inst.id !== 'sick', detail: inst.id === 'sick' ? 'HTTP 500' : 'HTTP 200', latencyMs: 2 } });
  if (req.method === 'DELETE') instances.delete(inst.key);
  return send(200, strip(inst));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
after(() => server.close());
const SERVER = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

async function ten(...args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  requests.length = 0;
  const code = await runCli([...args, '--server', SERVER, '--token', TOKEN], { ...Cli.defaultContext, stdout, stderr, colorDepth: 1 });
  return { code, out, err, requests: [...requests] };
}

test('spawn posts, polls until running, prints one line', async () => {
  const r = await ten('spawn', 'api', '--id', 'green', '--weight', '30');
  assert.equal(r.err, '');
  assert.equal(r.code, 0);
  assert.equal(r.out, 'api:green running on 127.0.0.1:41234 (pid 1234)\n');
  assert.equal(r.requests[0], 'POST /api/instances {"service":"api","id":"green","weight":30}');
  assert.equal(r.requests.at(-1), 'GET /api/instances/api/green');
});

test('spawn of an instance that fails exits 1 with SPAWN_FAILED', async () => {
  const r = await ten('spawn', 'bad:one');
  assert.equal(r.code, 1);
  assert.match(r.err, /^error TEN_ERR_INSTANCE_SPAWN_FAILED: could not start bad:one: failed/);
});

test('ps, ls SERVICE, ps --json', async () => {
  const ps = await ten('ps');
  assert.equal(ps.code, 0);
  assert.match(ps.out, /^INSTANCE +SOCKET +UPTIME +HEALTH +WEIGHT +STATE +PID +RESTARTS\napi:green +127\.0\.0\.1:41234 +5s +healthy +30 +running +1234 +0\n/);
  const ls = await ten('ls', 'api', '--json');
  assert.deepEqual(ls.requests, ['GET /api/instances?service=api']);
  assert.deepEqual(JSON.parse(ls.out).instances.map((i: InstanceView) => i.key), ['api:green']);
});

test('weight, restart, health, stop', async () => {
  assert.equal((await ten('weight', 'api:green', '80')).out, 'api:green weight 80\n');
  assert.equal((await ten('restart', 'api:green')).requests[0], 'POST /api/instances/api/green/restart');
  assert.equal((await ten('health')).code, 0, 'every probe ok');
  await ten('spawn', 'api:sick', '--no-wait');
  const all = await ten('health');
  assert.equal(all.code, 1);
  assert.match(all.out, /^api:sick +unhealthy +HTTP 500 +2ms$/m);
  assert.equal((await ten('health', 'api:green')).code, 0);
  const stop = await ten('stop', 'api', '--id', 'green');
  assert.deepEqual([stop.code, stop.out, stop.requests], [0, 'api:green stopped\n', ['DELETE /api/instances/api/green']]);
});

test('server errors are relayed with their code and hint; non-API answers are named', async () => {
  const r = await ten('stop', 'api:nope');
  assert.equal(r.code, 1);
  assert.equal(r.err, 'error TEN_ERR_INSTANCE_NOT_FOUND: instance api:nope not found\n  hint: list instances with `ten ps`\n');
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c) => (err += c));
  const ctx = { ...Cli.defaultContext, stdout: new PassThrough(), stderr, colorDepth: 1 };
  assert.equal(await runCli(['ps', '--server', SERVER, '--token', 'wrong'], ctx), 1);
  assert.match(err, /^error TEN_ERR_API_UNAUTHORIZED: /);
  err = '';
  assert.equal(await runCli(['ps', '--server', `${SERVER}/elsewhere`, '--token', TOKEN], ctx), 1);
  assert.match(err, /^error TEN_ERR_CLI_SERVER_UNREACHABLE: .*\(HTTP 404 from GET \/api\/instances is not a ten serve API answer\)/);
});

test('token from {data_dir}/api_token of the config file, else ./tenement-data/api_token', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ten-token-'));
  writeFileSync(join(dir, 'tenement.toml'), '[settings]\ndata_dir = "./state"\n');
  mkdirSync(join(dir, 'state'));
  writeFileSync(join(dir, 'state', 'api_token'), 'from-file\n');
  assert.equal(await resolveToken({ cwd: dir, env: {} }), 'from-file');
  assert.equal(await resolveToken({ cwd: dir, env: { TENEMENT_TOKEN: 'from-env' } }), 'from-env');
  assert.equal(await resolveToken({ cwd: dir, env: { TENEMENT_TOKEN: 'from-env' }, token: 'from-flag' }), 'from-flag');
  const bare = mkdtempSync(join(tmpdir(), 'ten-token-'));
  assert.equal(await resolveToken({ cwd: bare, env: {} }), undefined);
  mkdirSync(join(bare, 'tenement-data'));
  writeFileSync(join(bare, 'tenement-data', 'api_token'), 'fallback');
  assert.equal(await resolveToken({ cwd: bare, env: {} }), 'fallback');
});
