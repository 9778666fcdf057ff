// `ten top` against a real ten serve: one table (--once), the JSON (--json), a service filter, the
// live mode through a pipe and on a terminal (a pty from util-linux's `script`, when installed)
// ended by Ctrl-C with exit 0, a server that stops under it, and a server whose metrics slot is off.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { inProcessCli } from './cli-helper.ts';
import { cleanup, fixtureService, ROOT, startTen, waitFor, type Ten } from './harness.ts';
import type { StatsView } from '../../plugins/prometheus-exporter/view.ts';

const MAIN = join(ROOT, 'cli/main.ts');
const TSX = import.meta.resolve('tsx');
const HEADER = /^SERVICE\s+INSTANCE\s+STATE\s+WEIGHT\s+REQ\/S\s+ERR%\s+P99\s+CPU\s+MEM$/m;

const children = new Set<ChildProcess>();
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cleanup();
});

/** `ten top ARGS` as a child process (with `script`, on a pseudo-terminal); its output so far. */
function top(ten: Ten, args: string[], tty = false): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const argv = [process.execPath, '--import', TSX, MAIN, 'top', ...args];
  const env = { ...process.env, TENEMENT_SERVER: `http://127.0.0.1:${ten.port}`, TENEMENT_TOKEN: ten.token };
  // script -q (no banner) -e (its exit code is the command's) -c CMD; the typescript goes nowhere.
  // CMD runs under $SHELL -c: `exec` so ten top is the foreground job itself. Without it, dash (the
  // /bin/sh used when SHELL is unset, as in CI) waits as the job's leader and dies of the Ctrl-C: 130.
  const cmd = `exec ${argv.map((a) => `'${a}'`).join(' ')}`;
  const child = tty ? spawn('script', ['-qec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exit };
}

/** Resolves with the exit code, or fails after `ms`. */
function within(exit: Promise<number | null>, ms: number): Promise<number | null> {
  return Promise.race([exit, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no exit within ${ms} ms`)), ms).unref())]);
}

describe('ten top', () => {
  test('--once, --json and a service filter', async () => {
    const ten = await startTen(`[settings]\nhealth_interval = 60\n${fixtureService('api')}${fixtureService('web')}\n[instances]\napi = ["v1"]\nweb = ["w1"]\n`);
    await waitFor('both running', async () => (await ten.api('GET', '/api/instances')).json().instances.every((i: { state: string }) => i.state === 'running'));
    for (let i = 0; i < 20; i++) assert.equal((await ten.get('v1.api.localhost', '/')).status, 200);
    await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000))); // the window counts whole seconds
    const ten$ = inProcessCli(ten);
    const once = await ten$('top', '--once');
    assert.equal(once.code, 0, once.err);
    assert.match(once.out, HEADER);
    const rows = once.out.trim().split('\n').slice(1).map((l) => l.split(/\s+/));
    assert.deepEqual(rows.map((r) => r.slice(0, 4)), [['api', 'v1', 'running', '100'], ['web', 'w1', 'running', '100']]);
    const [api, web] = rows;
    assert.equal(api[4], '2.0', '20 requests in the last 10 s');
    assert.equal(api[5], '0.0%');
    assert.match(api[6], /^\d+(\.\d+)?m?s$/, 'a p99');
    assert.match(api[7], /^\d+\.\d%$/, 'CPU');
    assert.match(api[8], /^\d+(\.\d+)?MiB$/, 'memory');
    assert.deepEqual(web.slice(4, 7), ['0', '-', '-'], 'no requests: no error ratio, no p99');

    const only = await ten$('top', 'web', '--once');
    assert.deepEqual(only.out.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]), ['web']);

    const json = await ten$('top', '--json');
    assert.equal(json.code, 0, json.err);
    const s = JSON.parse(json.out) as StatsView;
    assert.equal(s.window_seconds, 10);
    assert.deepEqual(s.instances.map((i) => `${i.service}:${i.instance}`), ['api:v1', 'web:w1']);
    assert.ok(s.instances[0].history, 'with the history');
    assert.equal((await ten$('top', 'Not_A_Name', '--once')).code, 1);
  });

  test('live: a table every 2 s through a pipe, redrawn in place on a terminal; Ctrl-C exits 0', async () => {
    const ten = await startTen(`[settings]\nhealth_interval = 60\n${fixtureService('api')}\n[instances]\napi = ["v1"]\n`);
    const piped = top(ten, []);
    await waitFor('two tables', () => (piped.out().match(/^ten top — /gm) ?? []).length >= 2, 15_000);
    assert.doesNotMatch(piped.out(), /\x1b\[/, 'no escape codes through a pipe');
    assert.match(piped.out(), HEADER);
    assert.match(piped.out(), /^api\s+v1\s+running\s+100\s/m);
    piped.child.kill('SIGINT');
    assert.equal(await within(piped.exit, 5000), 0);

    if (spawnSync('script', ['--version']).status !== 0) return; // no util-linux script: no pty to test with
    const tty = top(ten, [], true);
    await waitFor('two frames', () => (tty.out().match(/\x1b\[H\x1b\[2J/g) ?? []).length >= 2, 15_000);
    assert.match(tty.out(), /^\x1b\[H\x1b\[2Jten top — http:\/\/127\.0\.0\.1:\d+ — \d\d:\d\d:\d\d — last 10 s — Ctrl-C to quit/);
    tty.child.stdin!.write('\x03'); // Ctrl-C typed on the terminal: SIGINT to the foreground job
    assert.equal(await within(tty.exit, 5000), 0);
  });

  test('the server stops under it: exit 1 with the reason, and ten serve does not wait for the stream', async () => {
    const ten = await startTen(`${fixtureService('api')}\n[instances]\napi = ["v1"]\n`);
    const t = top(ten, []);
    await waitFor('a table', () => HEADER.test(t.out()), 15_000);
    const t0 = Date.now();
    assert.equal(await ten.stop(), 0);
    assert.ok(Date.now() - t0 < 8000, `ten serve stopped in ${Date.now() - t0} ms (drain_timeout is 10 s)`);
    assert.equal(await within(t.exit, 5000), 1);
    assert.match(t.out(), /error TEN_ERR_CLI_SERVER_UNREACHABLE: cannot reach ten serve at http:\/\/127\.0\.0\.1:\d+ \(the stream ended/);
  });

  test('metrics slot off: TEN_ERR_CLI_METRICS_OFF says how to turn it on', async () => {
    const ten = await startTen(`${fixtureService('api')}\n[plugins.metrics]\nuse = false\n`);
    const once = await inProcessCli(ten)('top', '--once');
    assert.equal(once.code, 1);
    assert.match(once.err, /^error TEN_ERR_CLI_METRICS_OFF: ten serve at http:\/\/127\.0\.0\.1:\d+ serves no live statistics: its metrics slot is off\n {2}hint: turn it on: remove `use = false` from \[plugins\.metrics\]/);
    const live = top(ten, []);
    assert.equal(await within(live.exit, 15_000), 1);
    assert.match(live.out(), /error TEN_ERR_CLI_METRICS_OFF/);
  });
});
