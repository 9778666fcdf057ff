// processTreeUsage (core/usage.ts) on real process trees: the test spawns them (tree-app.mjs, and
// shells whose child burns CPU), compares with what /proc says process by process, and, where this
// host lets it create cgroups, moves a tree into one of its own. Everything it starts it kills;
// every cgroup it creates it removes.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { processTreeUsage } from '../../core/usage.ts';
import { freePort } from '../../core/net.ts';
import { waitUntil } from '../../core/wait.ts';

const TREE_APP = resolve(import.meta.dirname, '../fixtures/tree-app.mjs');
/** A node child that spins for 400 ms of CPU, then idles. */
const BURN = `${process.execPath} -e "const t = process.cpuUsage(); while (process.cpuUsage(t).user < 400000); setTimeout(() => {}, 60000)"`;

const children = new Set<ChildProcess>();
const cgroups: string[] = [];
after(async () => {
  for (const c of children) try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ }
  await waitUntil(() => [...children].every((c) => c.exitCode !== null || c.signalCode !== null), { deadline: Date.now() + 5000 }).catch(() => undefined);
  for (const dir of cgroups.reverse()) {
    await waitUntil(() => { try { rmdirSync(dir); return true; } catch { return !existsSync(dir); } }, { deadline: Date.now() + 5000 }).catch(() => undefined);
  }
});

/** Start `argv` in its own process group (so that after() can kill the whole tree). */
function start(argv: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const c = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, ...env } });
  children.add(c);
  return c;
}

/** Direct children of `pid`, from every thread's `children` file (proc(5)). */
function kids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      out.push(...readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter((x) => x.trim() !== '').map(Number));
    }
  } catch { /* gone */ }
  return out;
}

/** VmRSS of one process in bytes (proc(5): /proc/<pid>/status, kB), 0 when gone or a kernel thread. */
function vmRss(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** utime + stime of one process in seconds (fields 14, 15 of /proc/<pid>/stat; USER_HZ = 100). */
function ownCpu(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const k of kids(p)) { out.push(k); queue.push(k); }
  }
  return out;
}

test('a pid that does not exist, and nonsense, give null', () => {
  assert.equal(processTreeUsage(2 ** 22 + 12345), null);
  assert.equal(processTreeUsage(0), null);
  assert.equal(processTreeUsage(-1), null);
  assert.equal(processTreeUsage(1.5), null);
});

test('tree-app: the app, its shell and the sleep are counted; memory is the sum of their RSS', async () => {
  const app = start([process.execPath, TREE_APP], { PORT: String(await freePort(new Set())) });
  const pid = app.pid!;
  // node → sh → sleep: three processes once the shell has started its sleep
  assert.ok(await waitUntil(() => descendants(pid).length >= 2, { deadline: Date.now() + 10_000 }), 'the shell and its sleep');
  const tree = [pid, ...descendants(pid)];
  // the app's own CPU time read first: it only grows, so the tree's read after is at least it
  // (read after, a busy starting app had burnt more than the tree's figure: a flaky comparison)
  const own = ownCpu(pid);
  const u = processTreeUsage(pid)!;
  assert.ok(u, 'usage of a live tree');
  assert.equal(u.pids, tree.length, `pids ${u.pids} vs /proc ${tree.join(',')}`);
  assert.equal(u.cpuSource, 'proc', 'the test process shares its cgroups with the app');
  assert.equal(u.memorySource, 'proc');
  assert.equal(u.truncated, false);
  const rss = tree.reduce((s, p) => s + vmRss(p), 0);
  // statm/stat's rss and status' VmRSS are the same counters, read a few µs apart
  assert.ok(Math.abs(u.memoryBytes - rss) < rss * 0.2, `memory ${u.memoryBytes} vs VmRSS sum ${rss}`);
  assert.ok(u.memoryBytes > 10 * 1024 * 1024 && u.memoryBytes < 1024 * 1024 * 1024, `a node app's tree is tens of MB: ${u.memoryBytes}`);
  assert.ok(u.cpuSeconds >= own - 0.01, `at least the app's own CPU time: ${u.cpuSeconds} vs ${own}`);
  // the fallback without `children` files finds the same tree
  const scanned = processTreeUsage(pid, { scan: true })!;
  assert.equal(scanned.pids, u.pids);
  // bounded: the walk stops at maxPids
  const capped = processTreeUsage(pid, { maxPids: 1 })!;
  assert.equal(capped.pids, 1);
  assert.equal(capped.truncated, true);
});

test('CPU burnt by a descendant counts, also after the child exited and its parent reaped it', async () => {
  // a live burner under a root that burns nothing itself (sh execs into sleep)
  const live = start(['/bin/sh', '-c', `${BURN} & exec sleep 60`]);
  assert.ok(await waitUntil(() => (processTreeUsage(live.pid!)?.cpuSeconds ?? 0) >= 0.35, { deadline: Date.now() + 15_000 }), 'the burner\'s CPU');
  assert.ok(ownCpu(live.pid!) < 0.1, 'the root (sleep) burnt nothing itself');
  assert.ok(processTreeUsage(live.pid!)!.pids >= 2);
  // reaped: sh waits for the burner (its time goes to the shell's cutime, which exec keeps), then
  // becomes sleep: one process left, whose own time is nil
  const sh = start(['/bin/sh', '-c', `${BURN.replace('setTimeout(() => {}, 60000)', '0')}; exec sleep 60`]);
  const pid = sh.pid!;
  assert.ok(await waitUntil(() => descendants(pid).length === 0 && readFileSync(`/proc/${pid}/stat`, 'utf8').includes('(sleep)'),
    { deadline: Date.now() + 15_000 }), 'the burner ran and was reaped');
  assert.ok(ownCpu(pid) < 0.1);
  const u = processTreeUsage(pid)!;
  assert.equal(u.pids, 1);
  assert.ok(u.cpuSeconds >= 0.35, `the reaped burner's CPU: ${u.cpuSeconds}`);
});

/** Where this host mounts cgroup v2 and the v1 hierarchies (controller → mount point). */
function cgroupMounts(): { v2?: string; v1: Map<string, string> } {
  const out = { v2: undefined as string | undefined, v1: new Map<string, string>() };
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const at = pre.split(' ')[4];
    const [fstype, , opts] = post.split(' ');
    if (fstype === 'cgroup2') out.v2 ??= at;
    if (fstype === 'cgroup') for (const o of opts.split(',')) out.v1.set(o, at);
  }
  return out;
}

/** A fresh cgroup under `mount`, or undefined when this host does not let us make one. */
function makeCgroup(mount: string | undefined, name: string): string | undefined {
  if (!mount) return undefined;
  const dir = join(mount, name);
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  cgroups.push(dir);
  return dir;
}

test('a tree in a cgroup of its own is measured by the cgroup', async (t) => {
  const m = cgroupMounts();
  const name = `tenement-usage-test-${process.pid}`;
  const v2 = makeCgroup(m.v2, name);
  const hasV2Cpu = v2 !== undefined && existsSync(join(v2, 'cpu.stat'));
  const mem = makeCgroup(m.v1.get('memory'), name);
  const acct = hasV2Cpu ? undefined : makeCgroup(m.v1.get('cpuacct'), name);
  if (!hasV2Cpu && !acct) return t.skip('no cgroup this test may create (needs root and a writable cgroup mount)');
  // the shell waits for a line on stdin: by then it is in the cgroups, so the burner is born there
  const sh = start(['/bin/sh', '-c', `read x; ${BURN} & exec sleep 60`]);
  const pid = sh.pid!;
  for (const dir of [v2, mem, acct]) if (dir) writeFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
  sh.stdin!.end('go\n');
  assert.ok(await waitUntil(() => (processTreeUsage(pid)?.cpuSeconds ?? 0) >= 0.35, { deadline: Date.now() + 15_000 }), 'the burner\'s CPU');
  const u = processTreeUsage(pid)!;
  assert.equal(u.cpuSource, hasV2Cpu ? 'cgroup-v2' : 'cgroup-v1');
  const cgroupCpu = hasV2Cpu
    ? Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(v2!, 'cpu.stat'), 'utf8'))![1]) / 1e6
    : Number(readFileSync(join(acct!, 'cpuacct.usage'), 'utf8')) / 1e9;
  assert.ok(Math.abs(u.cpuSeconds - cgroupCpu) < 0.05, `${u.cpuSeconds} vs the cgroup's ${cgroupCpu}`);
  const v2Memory = v2 !== undefined && existsSync(join(v2, 'memory.current'));
  if (v2Memory) assert.equal(u.memorySource, 'cgroup-v2');
  else if (mem) {
    assert.equal(u.memorySource, 'cgroup-v1');
    const charged = Number(readFileSync(join(mem, 'memory.usage_in_bytes'), 'utf8'));
    assert.ok(Math.abs(u.memoryBytes - charged) < charged * 0.2 + 1024 * 1024, `${u.memoryBytes} vs the cgroup's ${charged}`);
  } else assert.equal(u.memorySource, 'proc');
  assert.ok(u.memoryBytes > 1024 * 1024, 'a node process is in there');
  assert.equal(u.pids, 2, 'the sleep and the burner, as the cgroup lists them');
});
