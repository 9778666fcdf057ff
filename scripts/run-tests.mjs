#!/usr/bin/env node
// Runs the whole suite with Node's test runner. Node 20 does not expand globs itself, so the file
// list is built here: test/unit, test/conformance, test/integration (*.test.ts), or the args given.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dirs = ['test/unit', 'test/conformance', 'test/integration'];
const files = process.argv.length > 2 ? process.argv.slice(2) : dirs.flatMap((d) => {
  try { return readdirSync(d).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(d, f)); } catch { return []; }
});
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
