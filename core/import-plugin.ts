// Importing one plugin module: a built-in name, a file relative to tenement.toml, or an npm
// package. Split from loader.ts (which decides what to load and checks it) so that how modules are
// found and imported lives in one place.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TenementError } from './errors.ts';
import type { Builtins } from './loader.ts';
import { isPluginDefinition, SLOTS, type PluginDefinition } from './plugin.ts';

export const LOAD_TIMEOUT_MS = 5000;

/** A built-in name, a path (./x.js, ../x.js, /abs/x.js) relative to the config folder, or an npm package. */
export async function importPlugin(use: string, dir: string, builtins: Builtins): Promise<PluginDefinition> {
  const builtin = builtins.plugins[use];
  if (builtin) return builtin;
  const isPath = use.startsWith('./') || use.startsWith('../') || isAbsolute(use);
  let url: string;
  try {
    url = pathToFileURL(isPath ? resolve(dir, use) : resolvePackage(use, dir)).href;
  } catch (err) {
    throw new TenementError('TEN_ERR_PLUGIN_NOT_FOUND', [use, firstLine(err)]);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await withTimeout(import(url), use);
  } catch (err) {
    if (err instanceof TenementError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND') throw new TenementError('TEN_ERR_PLUGIN_NOT_FOUND', [use, firstLine(err)]);
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, `import failed: ${(err as Error).message}`], {}, err);
  }
  const def = mod.default ?? mod;
  if (!isPluginDefinition(def)) {
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, 'the default export needs a string `name` and a `create(options)` function']);
  }
  if (def.provides !== undefined && !(SLOTS as readonly string[]).includes(def.provides)) {
    throw new TenementError('TEN_ERR_PLUGIN_INVALID_EXPORT', [use, `provides unknown slot "${def.provides}"`]);
  }
  return def;
}

/**
 * Where `import(name)` would load an npm package from, looking in `dir`'s node_modules chain.
 * require.resolve covers CommonJS and "main"; ESM-only packages ("exports" with only an
 * "import" condition) are resolved from their package.json here.
 */
function resolvePackage(name: string, dir: string): string {
  const req = createRequire(join(dir, 'package.json'));
  try {
    return req.resolve(name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw err;
  }
  for (const base of req.resolve.paths(name) ?? []) {
    const pkgFile = join(base, name, 'package.json');
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: unknown };
    const entry = exportTarget(pkg.exports);
    if (entry) return join(base, name, entry);
  }
  throw new Error(`Cannot find an importable entry point of package '${name}'`);
}

/** The "." export of a package for `import`, following import/node/default conditions. */
function exportTarget(exp: unknown): string | undefined {
  if (typeof exp === 'string') return exp;
  if (Array.isArray(exp)) return exp.map(exportTarget).find((e) => e !== undefined);
  if (typeof exp !== 'object' || exp === null) return undefined;
  const o = exp as Record<string, unknown>;
  if ('.' in o) return exportTarget(o['.']);
  for (const cond of ['import', 'node', 'default']) if (cond in o) return exportTarget(o[cond]);
  return undefined;
}

/** The first line of an error's message, without Node's "imported from <our own file>". */
function firstLine(err: unknown): string {
  return (err as Error).message.split('\n')[0].split(' imported from ')[0];
}

/** Reject when `p` takes longer than LOAD_TIMEOUT_MS. */
export function withTimeout<T>(p: Promise<T>, name: string, ms = LOAD_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TenementError('TEN_ERR_PLUGIN_LOAD_TIMEOUT', [name, ms])), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
