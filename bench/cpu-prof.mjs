// Preloaded into `ten serve` by bench/proxy.ts when PROXY_CPU_PROF=1 (NODE_OPTIONS=--import ...,
// since Node does not take --cpu-prof from NODE_OPTIONS): samples the main thread with the
// inspector's profiler from start to exit and writes a .cpuprofile (the format --cpu-prof
// writes) into $TEN_BENCH_CPU_PROF_DIR.
import { writeFileSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.TEN_BENCH_CPU_PROF_DIR;
if (dir && isMainThread) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 }); // µs, --cpu-prof's default
  session.post('Profiler.start');
  // the main thread's session answers synchronously: this runs to the end inside 'exit'
  process.once('exit', () => session.post('Profiler.stop', (err, res) => {
    if (err) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `ten-serve-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
  }));
}
