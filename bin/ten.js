#!/usr/bin/env node
// Launcher for the `ten` binary. Runs the bundle dist/main.js (scripts/build-cli.mjs, built by
// `npm install`) when it is newer than every source file it was built from; otherwise registers
// tsx and loads the TypeScript sources directly, so an edited checkout never runs stale code.
// Either way third-party plugins import the running copy's core as 'tenement' (core/module-hooks.mjs).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = join(root, 'dist/main.js');

/** The newest mtime (ms) of the source files (.ts, and .mjs like core/module-hooks.mjs, which the
 *  bundle carries a copy of) under `dir`, recursively. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts') || e.name.endsWith('.mjs')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

const built = statSync(bundle, { throwIfNoEntry: false })?.mtimeMs ?? 0;
if (built > Math.max(newest(join(root, 'cli')), newest(join(root, 'core')), newest(join(root, 'plugins')))) {
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
