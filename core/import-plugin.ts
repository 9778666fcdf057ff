// Importing one plugin module: a built-in name, a file relative to tenement.toml, or an npm
// package. Split from loader.ts (which decides what to load and checks it) so that how modules are
// found and imported lives in one place.
//
// Third-party plugins are written as users write them: a `.js` file with `export default` (ES
// module, wherever it lives, package.json or not), `.mjs`, CommonJS (`module.exports = …`, `.js`
// or `.cjs`) or an npm package; they import the public surface as `from 'tenement'`. Before the
// first one is imported, module-hooks.mjs is registered (see there) to resolve 'tenement' to the
// running server's core/index.ts and to load ES-module `.js` files as ES modules under tsx too.
import { existsSync, realpathSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { moduleResolve } from 'import-meta-resolve';
import { TenementError } from './errors.ts';
import type { Builtins } from './loader.ts';
import { isPluginDefinition, SLOTS, type PluginDefinition } from './plugin.ts';

export const LOAD_TIMEOUT_MS = 5000;

/** A built-in name, a path (./x.js, ../x.js, /abs/x.js) relative to the config folder, or an npm package. */
export async function importPlugin(use: string, dir: string, builtins: Builtins): Promise<PluginDefinition> {
  const builtin = builtins.plugins[use];
  if (builtin) return builtin;
  const isPath = use.startsWith('./') || use.startsWith('../') || isAbsolute(use);
  const url = isPath ? fileURL(use, dir) : packageURL(use, dir);
  await installModuleHooks();
  let mod: Record<string, unknown>;
  try {
    mod = await withTimeout(import(url), use);
  } catch (err) {
    if (err instanceof TenementError) throw err;
    throw importError(use, url, dir, err);
  }
  const def = mod.default ?? mod;
  if (!isPluginDefinition(def)) {
    const named = mod.default === undefined ? Object.keys(mod).find((k) => isPluginDefinition(mod[k])) : undefined;
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, named
      ? `its export \`${named}\` is a plugin definition, but tenement loads the default export: add \`export default ${named}\``
      : 'the default export (module.exports in CommonJS) needs a string `name` and a `create(options)` function']);
  }
  if (def.provides !== undefined && !(SLOTS as readonly string[]).includes(def.provides)) {
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, `provides unknown slot "${def.provides}"`]);
  }
  return def;
}

/** A plugin file named by path, which must exist. */
function fileURL(use: string, dir: string): string {
  const path = resolve(dir, use);
  if (!existsSync(path)) throw new TenementError('TEN_ERR_PLUGIN_NOT_FOUND', [use, `there is no file ${path}: paths are relative to the folder of tenement.toml, ${dir}`]);
  return pathToFileURL(path).href;
}

/**
 * The file `import(name)` loads for an npm package installed in `dir`'s node_modules chain,
 * resolved as Node resolves an import: `exports` (with the node and import conditions, then
 * default), else `main`, else index.js.
 */
function packageURL(name: string, dir: string): string {
  try {
    return moduleResolve(name, pathToFileURL(`${resolve(dir)}/`), new Set(['node', 'import'])).href;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find package/.test(e.message)
      ? `no package ${name} is installed in ${dir} or a folder above it: run \`npm install ${name}\` there, or start a path with ./ to name a file`
      : e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED'
        ? `package ${name} exports nothing an import can load (its package.json "exports" has no "import", "node" or "default" entry for it)`
        : `package ${name} cannot be imported: ${firstLine(err)}`;
    throw new TenementError('TEN_ERR_PLUGIN_NOT_FOUND', [name, why]);
  }
}

/** Why importing a plugin module that exists failed, as the TenementError that says what to do. */
function importError(use: string, url: string, dir: string, err: unknown): TenementError {
  const e = err as NodeJS.ErrnoException;
  const file = fileURLToPath(url);
  const invalid = (why: string) => new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, why], {}, err);
  if (e.code === 'ERR_TENEMENT_DEEP_IMPORT') return invalid(e.message);
  // ESM: "Cannot find package 'x' imported from /a/b.js" or "Cannot find module '/a/c.js' imported from /a/b.js";
  // CommonJS require(): "Cannot find module 'x'\nRequire stack: …"
  const missing = /^Cannot find (?:package|module) '([^']+)'(?: imported from (.+))?/.exec(e.message ?? '');
  if ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && missing) {
    const [, what, from = file] = missing;
    if (what === 'tenement' || what.startsWith('tenement/')) {
      return invalid(`${from} calls require('${what}'), which CommonJS cannot resolve (Node's require() does not go through tenement's module hooks): `
        + `write the plugin as an ES module (import { … } from 'tenement'), or use \`const { … } = await import('tenement')\` inside an async apply()`);
    }
    const bare = !what.startsWith('.') && !isAbsolute(what);
    return new TenementError('TEN_ERR_PLUGIN_NOT_FOUND', [use, bare
      ? `${from} imports package ${what}, which is not installed: run \`npm install ${what}\` in ${dir} (or the plugin's folder)`
      : `${from} imports ${what}, which does not exist: fix the path (ES modules need the file extension, e.g. './util.js')`], {}, err);
  }
  if (e.code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    return invalid(`node cannot load ${extname(file)} files here: write the plugin in JavaScript (.js, .mjs or .cjs), or compile it to JavaScript first`);
  }
  const notExported = /^The requested module 'tenement' does not provide an export named '([^']+)'/.exec(e.message ?? '');
  if (notExported) {
    return invalid(`'tenement' has no export ${notExported[1]}: a plugin may import only what core/index.ts (the public surface) exports, see docs/plugins.md`);
  }
  return invalid(`import failed: ${e.message}${e instanceof SyntaxError ? syntaxErrorAt(e, file) : ''}`);
}

/** " (at /x/y.js:3)" for a SyntaxError whose stack starts with the place, as Node's ESM loader's do. */
function syntaxErrorAt(err: SyntaxError, file: string): string {
  const first = err.stack?.split('\n')[0] ?? '';
  const at = /^(?:file:\/\/)?(\/[^:]+):(\d+)$/.exec(first);
  return at ? ` (at ${at[1]}:${at[2]})` : ` (in ${file})`;
}

/** The first line of an error's message, without Node's "imported from <our own file>". */
function firstLine(err: unknown): string {
  return (err as Error).message.split('\n')[0].split(' imported from ')[0];
}

/** Where `import 'tenement'` finds the running server's public surface (see module-hooks.mjs). */
const SURFACE_KEY = Symbol.for('tenement.surface');
let hooks: Promise<void> | undefined;

/**
 * Once per process, before the first third-party plugin is imported: publish core/index.ts's
 * namespace (this copy's, the one the server runs) and register module-hooks.mjs, which resolves
 * 'tenement' to it. The hooks file sits next to this module: core/ when tsx runs the sources,
 * dist/ in the bundle (scripts/build-cli.mjs copies it there). Without module.register()
 * (Node < 20.6) plugins still load, but cannot import 'tenement'.
 */
function installModuleHooks(): Promise<void> {
  hooks ??= (async () => {
    const surface = await import('./index.ts');
    (globalThis as Record<symbol, unknown>)[SURFACE_KEY] = surface;
    if (typeof nodeModule.register !== 'function') return;
    const root = realpathSync(fileURLToPath(new URL('..', import.meta.url)));
    nodeModule.register(new URL('./module-hooks.mjs', import.meta.url), {
      data: { names: Object.keys(surface), rootURL: `${pathToFileURL(root).href}/` },
    });
  })();
  return hooks;
}

/** Reject when `p` takes longer than LOAD_TIMEOUT_MS. */
export function withTimeout<T>(p: Promise<T>, name: string, ms = LOAD_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TenementError('TEN_ERR_PLUGIN_LOAD_TIMEOUT', [name, ms])), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
