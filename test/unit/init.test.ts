// tenement-init (native/tenement-init.c), the init every app instance runs under: built by
// scripts/build-init.mjs, run with real processes. It must mirror the app's status, forward signals
// and the TERM/KILL/SIG control commands to the app's process group, end what the app leaves
// behind (orphans reparented to it as a subreaper; the whole namespace as PID 1), run the app as
// another user, and report all of it in its line protocol on the control socket (fd 3 here: libuv
// makes stdio pipes as socketpairs, so child.stdio[3] is a duplex stream).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { readInit, type InitReport } from '../../core/init-link.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INIT = join(ROOT, 'build/tenement-init');

interface Line { text: string; at: number }
interface Ended { code: number | null; signal: NodeJS.Signals | null }

/** One tenement-init under test: its control lines, stdout, stderr, and how it ended. */
interface Run {
  child: ChildProcess;
  lines: Line[];
  stdout(): string;
  stderr(): string;
  send(command: string): void;
  /** The first control line matching `re` (waits for it, bounded). */
  line(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** The first stdout match of `re` (waits for it, bounded). */
  out(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Its end, once every stream is closed (bounded). */
  ended(ms?: number): Promise<Ended>;
}

/** What after() kills, whatever a failed test left running: the inits still running, and the
 *  processes (with their groups) seen under them, if still the same (same start time: not reused). */
const runs: Run[] = [];
const tracked: { pid: number; start: string }[] = [];
const dirs: string[] = [];
const cgroups: string[] = [];
let skipReason: string | null = null;

/** Field 22 of /proc/PID/stat, the start time: tells a process from a later one with its pid. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function track(pid: number): void {
  const start = startTime(pid);
  if (start !== null) tracked.push({ pid, start });
}

/** The process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls `check` every 10 ms until it returns a value; fails with `what` and the run's output after `ms`. */
async function until<T>(check: () => T | null | undefined, ms: number, what: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Spawns `cmd` (tenement-init, or a wrapper around it) with the control socket on fd 3. */
function run(cmd: string[]): Run {
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  let ended: Ended | null = null;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const control = child.stdio[3] as Duplex;
  control.setEncoding('utf8');
  control.on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const text of parts) lines.push({ text, at: Date.now() });
  });
  control.on('error', () => undefined);
  child.on('close', (code, signal) => { ended = { code, signal }; });
  const state = () => `lines ${JSON.stringify(lines.map((l) => l.text))}, stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`;
  const r: Run = {
    child, lines,
    stdout: () => stdout,
    stderr: () => stderr,
    send: (command) => { control.write(`${command}\n`); },
    line: (re, ms = 5000) => until(() => lines.map((l) => re.exec(l.text)).find((m) => m), ms, () => `control line ${re}; ${state()}`),
    out: (re, ms = 5000) => until(() => re.exec(stdout), ms, () => `stdout ${re}; ${state()}`),
    ended: (ms = 5000) => until(() => ended, ms, () => `the end of tenement-init; ${state()}`),
  };
  runs.push(r);
  return r;
}

const init = (args: string[]) => run([INIT, '--control-fd', '3', ...args]);
const texts = (r: Run) => r.lines.map((l) => l.text);

/** The app's pid from its `started` line, tracked for after(). */
async function started(r: Run): Promise<number> {
  const pid = Number((await r.line(/^started (\d+)$/))[1]);
  track(pid);
  return pid;
}

/** True (and the test skipped, with the reason) when the binary could not be built. */
function noInit(t: TestContext): boolean {
  if (skipReason) t.skip(skipReason);
  return skipReason !== null;
}

describe('tenement-init', () => {
  before(() => {
    const b = spawnSync(process.execPath, [join(ROOT, 'scripts/build-init.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    if (!existsSync(INIT)) skipReason = `build/tenement-init was not built (${(b.stderr || b.stdout || String(b.error)).trim()})`;
  });

  after(() => {
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    for (const { pid, start } of tracked) {
      if (startTime(pid) !== start) continue;
      for (const target of [-pid, pid]) { try { process.kill(target, 'SIGKILL'); } catch { /* gone */ } }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const c of cgroups) { try { rmdirSync(c); } catch { /* busy or gone */ } }
  });

  test('the app\'s exit code is mirrored', async (t) => {
    if (noInit(t)) return;
    const r = init(['--', 'sh', '-c', 'exit 3']);
    assert.deepEqual(await r.ended(), { code: 3, signal: null });
    assert.equal(texts(r).at(-1), 'exit 3 -');
    assert.match(texts(r)[0], /^started \d+$/);
  });

  test('death by a signal is mirrored', async (t) => {
    if (noInit(t)) return;
    const r = init(['--', 'sh', '-c', 'kill -KILL $$']);
    assert.deepEqual(await r.ended(), { code: null, signal: 'SIGKILL' });
    assert.equal(texts(r).at(-1), 'exit - SIGKILL');
  });

  const TRAPS_TERM = 'trap "echo got-term; exit 0" TERM; trap "echo got-usr1" USR1; echo ready $$; while :; do sleep 0.05; done';

  test('SIGTERM to the init reaches the app, which exits 0', async (t) => {
    if (noInit(t)) return;
    const r = init(['--', 'sh', '-c', TRAPS_TERM]);
    const app = await started(r);
    assert.equal(Number((await r.out(/^ready (\d+)$/m))[1]), app, 'started names the app\'s pid');
    r.child.kill('SIGTERM');
    assert.deepEqual(await r.ended(), { code: 0, signal: null });
    assert.match(r.stdout(), /got-term/);
    assert.deepEqual(texts(r), [`started ${app}`, 'exit 0 -']);
  });

  test('the TERM command does the same; SIG n forwards a signal', async (t) => {
    if (noInit(t)) return;
    const r = init(['--', 'sh', '-c', TRAPS_TERM]);
    await started(r);
    await r.out(/^ready/m);
    r.send('SIG 10'); // SIGUSR1: trapped, the app goes on
    await r.out(/got-usr1/);
    r.send('NONSENSE 1');
    r.send('TERM');
    assert.deepEqual(await r.ended(), { code: 0, signal: null });
    assert.match(r.stdout(), /got-term/);
    assert.equal(texts(r).at(-1), 'exit 0 -');
  });

  test('the KILL command ends an app that ignores SIGTERM, and the init', async (t) => {
    if (noInit(t)) return;
    const r = init(['--', 'sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done']);
    const app = await started(r);
    await r.out(/^ready/m);
    r.send('TERM');
    await new Promise((res) => setTimeout(res, 200));
    assert.ok(alive(app), 'SIGTERM is ignored');
    r.send('KILL');
    assert.deepEqual(await r.ended(), { code: null, signal: 'SIGKILL' });
    assert.equal(texts(r).at(-1), 'exit - SIGKILL');
    assert.ok(!alive(app));
  });

  test('an orphan (setsid, its parent gone) is reparented to the init and ended with the app', async (t) => {
    if (noInit(t)) return;
    // the subshell starts the grandchild and exits: the grandchild's parent is gone at once
    const r = init(['--', 'sh', '-c', '(setsid sleep 300 & echo orphan $!); echo ready; exec sleep 300']);
    const app = await started(r);
    const orphan = Number((await r.out(/^orphan (\d+)$/m))[1]);
    track(orphan);
    await r.out(/^ready/m);
    // once it called setsid() (its own session and group: the TERM to the app's group misses it)
    // and the subshell exited, its parent is the init
    const stat = () => /\) \S+ (\d+) (\d+) (\d+)/s.exec(readFileSync(`/proc/${orphan}/stat`, 'utf8'))!.slice(1).map(Number);
    await until(() => (String(stat()) === String([r.child.pid, orphan, orphan]) ? true : null), 2000,
      () => `ppid, pgrp, session of the orphan: ${stat()}; the init is ${r.child.pid}`);
    r.send('TERM');
    assert.deepEqual(await r.ended(), { code: null, signal: 'SIGTERM' });
    assert.ok(!alive(orphan), 'the orphan is gone');
    assert.ok(!alive(app));
    assert.deepEqual(texts(r).slice(1), ['orphans 1 1', 'exit - SIGTERM']);
  });

  test('a daemonizing app: its daemon is TERMed (early end), one ignoring TERM is KILLed after the grace', async (t) => {
    if (noInit(t)) return;
    const dir = mkdtempSync(join(tmpdir(), 'tenement-init-'));
    dirs.push(dir);
    // the app starts the daemon, waits until it wrote its pid (its TERM trap set), and exits 0
    const daemonize = (grace: string, daemon: string, file: string) => init(['--grace', grace, '--', 'sh', '-c',
      'setsid sh -c "$1" daemon "$2" & while [ ! -s "$2" ]; do sleep 0.01; done; exit 0', 'app', daemon, file]);
    // one that ends on TERM ends well before a 5 s grace; one that ignores it lasts the 0.5 s grace
    for (const [what, grace, daemon, min, max] of [
      ['respects TERM', '5', 'echo $$ > "$1"; exec sleep 300', 0, 2000],
      ['ignores TERM', '0.5', 'trap "" TERM; echo $$ > "$1"; exec sleep 300', 450, 2500],
    ] as const) {
      const file = join(dir, what.replace(' ', '-'));
      const r = daemonize(grace, daemon, file);
      await started(r);
      await until(() => (existsSync(file) && readFileSync(file, 'utf8').trim()) || null, 5000, () => `the daemon's pid file (${what})`);
      const pid = Number(readFileSync(file, 'utf8'));
      track(pid);
      assert.deepEqual(await r.ended(), { code: 0, signal: null }, what);
      assert.ok(!alive(pid), `the daemon that ${what} is gone`);
      const [orphans, exit] = r.lines.slice(1);
      assert.match(orphans.text, /^orphans [1-9]\d* 0$/, what);
      assert.equal(exit.text, 'exit 0 -', what);
      const took = exit.at - orphans.at;
      assert.ok(took >= min && took <= max, `the daemon that ${what} ended in ${took} ms, expected ${min}-${max}`);
    }
  });

  test('--user nobody runs the app as 65534; --chown gives it its folder, mode 0700', async (t) => {
    if (noInit(t)) return;
    if (process.getuid?.() !== 0) return t.skip('needs root (setuid)');
    const dir = mkdtempSync(join(tmpdir(), 'tenement-init-user-'));
    dirs.push(dir);
    const r = init(['--user', 'nobody', '--chown', dir, '--', 'sh', '-c', 'echo "$(id -u) $(id -g)"; touch "$1/written"', 'app', dir]);
    assert.deepEqual(await r.ended(), { code: 0, signal: null }, r.stderr());
    assert.equal(r.stdout().trim(), '65534 65534');
    const st = statSync(dir);
    assert.equal(st.uid, 65534);
    assert.equal(st.mode & 0o7777, 0o700);
    assert.equal(statSync(join(dir, 'written')).uid, 65534);
  });

  test('--no-new-privs and --drop-caps: the app has no_new_privs and no capability at all', async (t) => {
    if (noInit(t)) return;
    if (process.getuid?.() !== 0) return t.skip('needs root (a bounding set it may drop)');
    const r = init(['--no-new-privs', '--drop-caps', '--', 'grep', '-E', '^(Cap|NoNewPrivs)', '/proc/self/status']);
    assert.deepEqual(await r.ended(), { code: 0, signal: null }, r.stderr());
    const status = Object.fromEntries(r.stdout().trim().split('\n').map((l) => l.split(/:\s+/)));
    assert.deepEqual(status, {
      CapInh: '0000000000000000', CapPrm: '0000000000000000', CapEff: '0000000000000000',
      CapBnd: '0000000000000000', CapAmb: '0000000000000000', NoNewPrivs: '1',
    });
  });

  test('PID 1 of a PID namespace (unshare): hostname, TERM, and a daemon ended with kill(-1)', async (t) => {
    if (noInit(t)) return;
    const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '--uts', '--', 'true'], { encoding: 'utf8', timeout: 10_000 });
    if (probe.status !== 0) return t.skip(`unshare --pid --fork --mount-proc --uts does not work here (${(probe.stderr || String(probe.error)).trim()})`);
    const app = 'hostname; echo pid $$; setsid sh -c \'trap "" TERM; echo daemon-ready; exec sleep 300\' & ' +
      'trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done';
    const r = run(['unshare', '--pid', '--fork', '--mount-proc', '--uts', '--', INIT, '--hostname', 'test-host', '--grace', '0.3', '--control-fd', '3', '--', 'sh', '-c', app]);
    await r.line(/^started 2$/);
    await r.out(/^ready$/m);
    await r.out(/^daemon-ready$/m);
    assert.match(r.stdout(), /^test-host\npid 2\n/);
    const sent = Date.now();
    r.send('TERM');
    assert.deepEqual(await r.ended(), { code: 0, signal: null }, r.stderr());
    assert.deepEqual(texts(r), ['started 2', 'orphans 1 1', 'exit 0 -']);
    // the daemon ignored TERM: the exit line (written before the init exits, so before the kernel
    // ends the namespace) came after the grace, once kill(-1, SIGKILL) had ended it
    assert.ok(r.lines[2].at - sent >= 250, `exit after ${r.lines[2].at - sent} ms`);
  });

  test('--exec runs COMMAND in place, the control fd left open for it', async (t) => {
    if (noInit(t)) return;
    const r = init(['--exec', '--', INIT, '--control-fd', '3', '--', 'sh', '-c', 'echo ppid $PPID']);
    assert.deepEqual(await r.ended(), { code: 0, signal: null });
    assert.equal(r.stdout(), `ppid ${r.child.pid}\n`);
    assert.deepEqual(texts(r).slice(1), ['exit 0 -']);
  });

  test('--join moves the init, and so the app, into a cgroup', async (t) => {
    if (noInit(t)) return;
    const name = `tenement-init-test-${process.pid}`;
    const dir = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup', '/sys/fs/cgroup/pids'].map((m) => join(m, name)).find((d) => {
      if (!existsSync(join(d, '../cgroup.procs'))) return false;
      try { mkdirSync(d); } catch { return false; }
      cgroups.push(d);
      return true;
    });
    if (!dir) return t.skip('no cgroup this test may create (needs root and a writable cgroup mount)');
    const r = init(['--join', join(dir, 'cgroup.procs'), '--', 'cat', '/proc/self/cgroup']);
    assert.deepEqual(await r.ended(), { code: 0, signal: null }, r.stderr());
    assert.match(r.stdout(), new RegExp(`:/${name}$`, 'm'));
  });

  test('bad input: unknown option 125, missing COMMAND 125, no such command 127, failed join 126', async (t) => {
    if (noInit(t)) return;
    const bad = init(['--frobnicate', '--', 'true']);
    assert.deepEqual(await bad.ended(), { code: 125, signal: null });
    assert.match(bad.stderr(), /unknown option '--frobnicate'/);
    assert.deepEqual(await init(['true']).ended(), { code: 125, signal: null });
    assert.deepEqual(await init(['--']).ended(), { code: 125, signal: null });
    const missing = init(['--', 'tenement-no-such-command']);
    assert.deepEqual(await missing.ended(), { code: 127, signal: null });
    assert.deepEqual(texts(missing), ['error exec tenement-no-such-command: No such file or directory']);
    assert.match(missing.stderr(), /^tenement-init: exec tenement-no-such-command: No such file or directory$/m);
    const joined = init(['--join', '/nonexistent/cgroup.procs', '--', 'true']);
    assert.deepEqual(await joined.ended(), { code: 126, signal: null });
    assert.deepEqual(texts(joined), ['error join /nonexistent/cgroup.procs: No such file or directory']);
  });
  test('--listen and --relay: output as frames; a supervisor that goes away is replaced by the next one, which gets the pid and what was kept', async (t) => {
    if (noInit(t)) return;
    const dir = mkdtempSync(join(tmpdir(), 'ten-init-'));
    dirs.push(dir);
    const path = join(dir, 'ctl.sock');
    const child = spawn(INIT, ['--control-fd', '3', '--listen', path, '--relay', '--grace', '0.3', '--', 'sh', '-c', 'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.01; done'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    runs.push({ child } as Run);
    const first = { init: {} as InitReport, out: '' };
    const control = child.stdio[3] as Duplex;
    void readInit(control, first.init, { report: () => undefined, output: (_s, c) => { first.out += c.toString(); } });
    await until(() => /tick 20\n/.test(first.out) || null, 5000, () => first.out);
    track(first.init.started!);
    assert.equal(statSync(path).mode & 0o077, 0, 'the socket is its owner\'s only');
    control.destroy(); // the supervisor goes away: the app runs on, its output kept
    await new Promise((r) => setTimeout(r, 400));
    const second = { init: {} as InitReport, out: '' };
    const sock = net.connect(path);
    const closed = readInit(sock, second.init, { report: () => undefined, output: (_s, c) => { second.out += c.toString(); } });
    await until(() => second.init.started ?? null, 3000, () => second.out);
    assert.equal(second.init.started, first.init.started, 'the same app');
    await until(() => second.out.split('\n').length > 60 || null, 5000, () => second.out);
    const ticks = (o: string) => [...o.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
    const [a, b] = [ticks(first.out), ticks(second.out)];
    b.forEach((v, k) => assert.equal(v, b[0] + k, 'in order, none missing'));
    // what the app wrote in the 400 ms with no supervisor came with the new one
    assert.ok(b[0] <= a[a.length - 1] + 5, `the second connection starts at tick ${b[0]}, the first ended at ${a[a.length - 1]}`);
    t.diagnostic(`first connection ticks 0..${a[a.length - 1]}, second ${b[0]}..${b[b.length - 1]}`);
    sock.write('TERM\n');
    await closed;
    assert.deepEqual(second.init.exit, { code: null, signal: 'SIGTERM' });
  });

  test('--relay with no supervisor: 1 MiB is kept, the rest dropped and counted, and the app is never held back', async (t) => {
    if (noInit(t)) return;
    const dir = mkdtempSync(join(tmpdir(), 'ten-init-'));
    dirs.push(dir);
    const path = join(dir, 'ctl.sock');
    const child = spawn(INIT, ['--control-fd', '3', '--listen', path, '--relay', '--', 'sh', '-c', 'sleep 0.3; head -c 3000000 /dev/zero; echo done >&2; sleep 5'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    runs.push({ child } as Run);
    (child.stdio[3] as Duplex).destroy();
    await new Promise((r) => setTimeout(r, 1500));
    const got = { init: {} as InitReport, bytes: 0, dropped: 0, err: '' };
    const sock = net.connect(path);
    void readInit(sock, got.init, {
      report: () => undefined,
      output: (s, c) => { if (s === 'stdout') got.bytes += c.length; else got.err += c.toString(); },
      dropped: (n) => { got.dropped += n; },
    });
    await until(() => (got.err.includes('done') ? true : null), 5000, () => JSON.stringify(got));
    t.diagnostic(`3,000,000 bytes written with no supervisor: ${got.bytes} kept, ${got.dropped} dropped and counted`);
    assert.equal(got.bytes + got.dropped, 3_000_000);
    assert.ok(got.bytes <= 1 << 20 && got.bytes > 900_000, `${got.bytes} kept`);
    sock.write('KILL\n');
    sock.destroy();
  });
});
