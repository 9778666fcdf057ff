#!/usr/bin/env node
// Bundles the `ten` CLI into dist/ (one ESM file per lazily loaded part, node_modules left
// external). Loading ~80 TypeScript modules through tsx's loader thread costs about a second at
// every `ten` command; the bundle starts in a few hundred milliseconds. bin/ten.js uses it while
// it is newer than every source file, and falls back to tsx otherwise, so a stale bundle is never
// run. Run by `npm install` (the `prepare` script); `npm start` and the tests use tsx directly.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist`; // one level below the root, like cli/: core/version.ts finds ../package.json
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [`${root}cli/main.ts`],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outdir,
  logLevel: 'warning',
});
console.log('built dist/main.js');
