#!/usr/bin/env node
// Bundles the `ten` CLI into dist/ (one ESM file per lazily loaded part, node_modules left
// external). Loading ~80 TypeScript modules through tsx's loader thread costs about a second at
// every `ten` command; the bundle starts in a few hundred milliseconds. bin/ten.js uses it while
// it is newer than every source file, and falls back to tsx otherwise, so a stale bundle is never
// run. Run by `npm install` (the `prepare` script); `npm start` and the tests use tsx directly.
//
// `node scripts/build-cli.mjs [outdir]`: another output folder (tests build their own), which must
// be a folder directly inside the repository, like dist/: core/version.ts finds ../package.json
// from it, and the external packages resolve from the repository's node_modules.
import { build } from 'esbuild';
import { copyFileSync, rmSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = resolve(root, process.argv[2] ?? 'dist');
if (dirname(outdir) !== resolve(root) || basename(outdir).startsWith('.git')) {
  throw new Error(`build-cli: the output folder must be directly inside ${root}, got ${outdir}`);
}

/** Built-in code imports the core as '../core/index.ts', never as 'tenement': with packages
 *  external, esbuild would leave `import 'tenement'` in the bundle, which plain node resolves (by
 *  package.json's self-reference) to core/index.ts, a .ts file it cannot load. Third-party plugins
 *  import 'tenement' at run time, through core/module-hooks.mjs. */
const noSelfImport = {
  name: 'no-self-import',
  setup(b) {
    b.onResolve({ filter: /^tenement(\/|$)/ }, (args) => ({
      errors: [{ text: `${args.importer} imports '${args.path}': code in the bundle imports the core by path (core/index.ts), not by package name` }],
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  // the log writer runs in a worker thread from a file of its own (core/logbook.ts starts it)
  entryPoints: { main: `${root}cli/main.ts`, 'log-writer': `${root}core/log-writer.ts` },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outdir,
  logLevel: 'warning',
  plugins: [noSelfImport],
});
// The plugin module hooks run on Node's loader thread from a file of their own (core/import-plugin.ts
// registers ./module-hooks.mjs next to itself, which in the bundle is this folder).
copyFileSync(`${root}core/module-hooks.mjs`, `${outdir}/module-hooks.mjs`);
console.log(`built ${basename(outdir)}/main.js`);
