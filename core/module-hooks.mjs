// Module resolution hooks for third-party plugins, registered with node:module's register() by
// core/import-plugin.ts before the first plugin is imported (they run on Node's loader thread).
// Plain JavaScript, not TypeScript: the bundle (dist/, plain node) registers this very file too,
// copied next to it by scripts/build-cli.mjs.
//
// 1. `import … from 'tenement'` is the public surface (core/index.ts) of the tenement that is
//    running, whatever folder the plugin lives in (no package.json, no node_modules needed). It
//    resolves to one synthetic module, `tenement:index`, whose exports are read from the namespace
//    the main thread published on globalThis[Symbol.for('tenement.surface')]: the very objects the
//    server uses, so `err instanceof TenementError` holds both ways. Resolving to the file
//    core/index.ts instead would keep that identity only under tsx: the bundle has no such module
//    (its core is inlined in dist/chunk-*.js), and plain node cannot load a .ts file, so a second
//    copy, or nothing, would load. The synthetic module is the same in both modes.
// 2. `tenement/<anything>` is refused with the reason: only the root is public. So is a file of
//    core/ other than index.ts imported by path from a module outside this installation.
// 3. A `.js` file with ES module syntax (import/export) in a folder whose package.json says nothing
//    (or that has none) loads as an ES module. Plain node detects this itself; tsx declares every
//    such file CommonJS, and Node then fails with "Cannot require() ES Module … in a cycle" (under
//    tsx's ESM-only register(), as bin/ten.js runs the sources) or converts it to CommonJS, where
//    `import … from 'tenement'` becomes a require() these hooks never see (under `--import tsx`).
//    A file that compiles as CommonJS (`module.exports = …`) stays CommonJS.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compileFunction } from 'node:vm';

export const SURFACE_URL = 'tenement:index';

/** Set by initialize(): the export names of core/index.ts and where this installation lives. */
let names = [];
let rootURL = '';
let indexURL = '';

/** @param {{ names: string[], rootURL: string }} data rootURL: the installation's folder, ending in '/' */
export function initialize(data) {
  names = data.names;
  rootURL = data.rootURL;
  indexURL = new URL('core/index.ts', rootURL).href;
}

function surfaceSource() {
  return `// tenement's public surface (core/index.ts) of the running server; see core/module-hooks.mjs
const surface = globalThis[Symbol.for('tenement.surface')];
if (surface === undefined) throw new Error("'tenement' is only importable by a plugin that tenement loads");
export const { ${names.join(', ')} } = surface;
`;
}

/** Why an import of tenement's internals is refused, and what to write instead. */
function deepImportError(specifier, parentURL) {
  const from = parentURL?.startsWith('file:') ? fileURLToPath(parentURL) : parentURL ?? 'a plugin';
  const err = new Error(`import '${specifier}' in ${from} is refused: only 'tenement' itself is public (core/index.ts); `
    + `tenement's other modules are internals that change without notice. Import what you need from 'tenement', `
    + `e.g. import { definePlugin, TenementError } from 'tenement'`);
  err.code = 'ERR_TENEMENT_DEEP_IMPORT';
  return err;
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'tenement') return { url: SURFACE_URL, format: 'module', shortCircuit: true };
  if (specifier.startsWith('tenement/')) throw deepImportError(specifier, context.parentURL);
  const resolved = await nextResolve(specifier, context);
  const { url } = resolved;
  if (rootURL && url.startsWith(`${rootURL}core/`) && url.split(/[?#]/)[0] !== indexURL
    && context.parentURL?.startsWith('file:') && !context.parentURL.startsWith(rootURL)) {
    throw deepImportError(specifier, context.parentURL);
  }
  return resolved;
}

export async function load(url, context, nextLoad) {
  if (url === SURFACE_URL) return { format: 'module', source: surfaceSource(), shortCircuit: true };
  const loaded = await nextLoad(url, context);
  if (loaded.format !== 'commonjs' || !url.startsWith('file:') || !new URL(url).pathname.endsWith('.js')) return loaded;
  const source = loaded.source == null ? await readFile(new URL(url), 'utf8') : String(loaded.source);
  return isCommonJs(source, fileURLToPath(url)) ? loaded : { format: 'module', source, shortCircuit: true };
}

/** Whether `source` compiles as a CommonJS module body (import/export statements, import.meta and
 *  top-level await do not). A file that compiles as neither fails later with its SyntaxError. */
function isCommonJs(source, filename) {
  try {
    // a leading BOM or #! line is no syntax error to Node's CommonJS loader, which drops them
    compileFunction(source.replace(/^\uFEFF?#![^\n]*/, ''), ['exports', 'require', 'module', '__filename', '__dirname'], { filename });
    return true;
  } catch (err) {
    if (err instanceof SyntaxError) return false;
    throw err;
  }
}
