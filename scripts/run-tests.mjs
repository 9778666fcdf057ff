#!/usr/bin/env node
// Runs the whole suite with Node's test runner. Node 20 does not expand globs itself, so the file
// list is built here: test/unit, test/conformance, test/integration, test/docs (*.test.ts), or the
// args given.
// Two passes: every file but the load tests, two files at a time; then the load tests alone
// (SOLO), whose time bounds (a probe answered within 1 s during a flood) measure ten serve, not
// whatever other test file shares the 2 cores with it. A last line adds the two passes up.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, rmdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const SOLO = new Set(['hostile.test.ts']);
const dirs = ['test/unit', 'test/conformance', 'test/integration', 'test/docs'];
const files = process.argv.length > 2 ? process.argv.slice(2) : dirs.flatMap((d) => {
  try { return readdirSync(d).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(d, f)); } catch { return []; }
});
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

/** One runner pass; resolves with its exit code and the pass/fail counts of its summary. */
function pass(list, concurrency) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...list], { stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      tail = (tail + d).slice(-4096);
    });
    child.on('close', (code) => {
      const count = (what) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(tail)?.[1] ?? 0);
      resolve({ code: code ?? 1, pass: count('pass'), fail: count('fail'), skipped: count('skipped') });
    });
  });
}

// Debian packages some tests drive: chromium (the dashboard's browser test), zsh and fish (the
// completion test). Installed when missing (as root, with apt-get); when that cannot be done the
// script says so and the test skips itself with the reason.
const packages = [
  ...(files.some((f) => basename(f).startsWith('dashboard')) ? ['chromium=/usr/bin/chromium'] : []),
  ...(files.some((f) => basename(f).startsWith('completion')) ? ['zsh=/usr/bin/zsh', 'fish=/usr/bin/fish'] : []),
];
if (packages.length > 0) spawnSync('bash', ['scripts/ensure-debian.sh', ...packages], { stdio: 'inherit' });

const solo = files.filter((f) => SOLO.has(basename(f)));
const rest = files.filter((f) => !SOLO.has(basename(f)));
// Instance cgroups (tenement-<tag> under each hierarchy) the tests' ten serves leave empty behind
// (a ten serve killed before its own cleanup): the ones that appeared during the run are removed at
// the end, deepest first; a cgroup that still has processes cannot be removed and stays.
function tenementCgroups() {
  const found = [];
  const walk = (dir, depth) => {
    let entries = [];
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const path = join(dir, e.name);
      if (e.name.startsWith('tenement-')) found.push(path);
      else if (depth < 3) walk(path, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}
const cgroupsBefore = new Set(tenementCgroups());

const runs = [];
if (rest.length > 0) runs.push(await pass(rest, 2));
if (solo.length > 0) runs.push(await pass(solo, 1));
const sum = (k) => runs.reduce((n, r) => n + r[k], 0);
console.log(`${sum('pass')} passed, ${sum('fail')} failed, ${sum('skipped')} skipped`);
let removed = 0;
for (const dir of tenementCgroups().filter((d) => !cgroupsBefore.has(d))) {
  const rm = (d) => {
    try { for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(join(d, e.name)); rmdirSync(d); removed++; } catch { /* has processes, or gone */ }
  };
  rm(dir);
}
if (removed > 0) console.log(`removed ${removed} empty cgroup folder(s) the tests' ten serves left behind`);
process.exit(runs.some((r) => r.code !== 0) ? 1 : 0);
