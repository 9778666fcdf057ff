// What the load benchmarks (bench/proxy.ts, tenants.ts, exporter.ts) share: running wrk, its
// text output → figures, the order of interleaved runs, and CPU time of a process from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface WrkResult { rps: number; p50: number; p99: number; requests: number; errors: number; non2xx: number }

/** "1.23ms" → 1.23 (milliseconds). */
function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(v.trim());
  if (!m) throw new Error(`unparsable wrk latency "${v}"`);
  const k = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'us'];
  return Number(m[1]) * k;
}

/** Requests/s, p50 and p99 (ms, from --latency), request count, socket errors and non-2xx answers. */
export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s*50%\s+(\S+)/m.exec(out);
  const p99 = /^\s*99%\s+(\S+)/m.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !p50 || !p99 || !total) throw new Error(`unparsable wrk output:\n${out}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: Number(rps[1]), p50: toMs(p50[1]), p99: toMs(p99[1]), requests: Number(total[1]),
    errors: sock ? sock.slice(1).reduce((s, n) => s + Number(n), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

/** A copy of `xs` in an order fixed by `seed` (Fisher–Yates with mulberry32): each round of
 *  interleaved runs gets its own order, so that no target always runs right after the same one. */
export function shuffled<T>(xs: readonly T[], seed: number): T[] {
  let a = Math.imul(seed, 0x9e3779b9) >>> 0; // spread small seeds apart
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < 4; i++) random(); // mulberry32's first outputs follow the seed closely
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Run `wrk ARGS` for `seconds` and resolve with its output (stdout and stderr); killed 15 s after
 * it should have ended. `onChild` sees the process (to stop it early) and returns what to undo
 * when it ends.
 */
export function runWrk(args: readonly string[], seconds: number, onChild?: (child: ChildProcess) => () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const undo = onChild?.(child);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000); // bounded
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      undo?.();
      if (code === 0) resolve(out);
      else reject(new Error(`wrk ${args.join(' ')} ended with ${code ?? signal}:\n${out}`));
    });
  });
}

/** utime + stime of one process in clock ticks (proc(5): /proc/<pid>/stat fields 14 and 15); 0
 *  when it is gone. */
export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}
