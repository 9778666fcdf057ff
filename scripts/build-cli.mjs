#!/usr/bin/env node
// Bundles the `ten` CLI into dist/ (one ESM file per lazily loaded part). Loading ~80 TypeScript
// modules through tsx's loader thread costs about a second at every `ten` command; the bundle
// starts in a few hundred milliseconds. The packages are bundled in too, but for better-sqlite3
// (a native addon) and pino / pino-pretty (whose transports find worker files next to their own):
// resolving and reading several hundred package files cost about a quarter of the start-up CPU
// (measured on this 2-core host: ten ps 0.85 → 0.62 s, ten serve ready 2.0 → 1.5 s). CommonJS
// packages call require(), which an ES module lacks: the banner gives each chunk one. bin/ten.js
// uses the bundle while it is newer than every source file, and falls back to tsx otherwise, so a
// stale bundle is never run. Run by `npm install` (the `prepare` script); `npm start` and the tests use tsx directly.
//
// `node scripts/build-cli.mjs [outdir]`: another output folder (tests build their own), which must
// be a folder directly inside the repository, like dist/: core/version.ts finds ../package.json
// from it, and the external packages resolve from the repository's node_modules.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = resolve(root, process.argv[2] ?? 'dist');
if (dirname(outdir) !== resolve(root) || basename(outdir).startsWith('.git')) {
  throw new Error(`build-cli: the output folder must be directly inside ${root}, got ${outdir}`);
}

/** Built-in code imports the core as '../core/index.ts', never as 'tenement': as an external
 *  package, esbuild would leave `import 'tenement'` in the bundle, which plain node resolves (by
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
  external: ['better-sqlite3', 'pino', 'pino-pretty'],
  banner: { js: "import { createRequire as __tenCreateRequire } from 'node:module'; const require = __tenCreateRequire(import.meta.url);" },
  outdir,
  logLevel: 'warning',
  plugins: [noSelfImport],
});
// The plugin module hooks run on Node's loader thread from a file of their own (core/import-plugin.ts
// registers ./module-hooks.mjs next to itself, which in the bundle is this folder).
copyFileSync(`${root}core/module-hooks.mjs`, `${outdir}/module-hooks.mjs`);
// The config file's validator, compiled ahead of time (core/schema.ts configValidator loads it).
const validators = spawnSync(process.execPath, ['--import', 'tsx', `${root}scripts/build-validators.ts`, `${outdir}/config-validator.cjs`], { cwd: root, stdio: 'inherit' });
if (validators.status !== 0) throw new Error(`build-cli: scripts/build-validators.ts exited ${validators.status}`);
console.log(`built ${basename(outdir)}/main.js`);
