#!/usr/bin/env node
// Compiles native/tenement-init.c (the init that runs every app instance: subreaper, signal
// forwarding, leftover cleanup; see the comment at the top of the file) into build/tenement-init.
// Run by `npm install` (the `prepare` script) and `npm run build:init`; does nothing while the
// binary is newer than the source. Without a working C compiler it says so in one line and exits 0:
// an install must not fail for it, but containment needs the binary.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = `${root}native/tenement-init.c`;
const out = `${root}build/tenement-init`;

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};

if (mtime(out) > mtime(src)) process.exit(0);
mkdirSync(`${root}build`, { recursive: true });
const r = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', out, src], { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.error || r.status !== 0) {
  const why = r.error ? `cc: ${r.error.code === 'ENOENT' ? 'not found' : r.error.message}` : `cc exited with ${r.status ?? r.signal}`;
  console.error(`tenement: could not build build/tenement-init (${why}): containment needs it; install a C compiler (apt install gcc) and run npm run build:init`);
  process.exit(0);
}
console.log('built build/tenement-init');
