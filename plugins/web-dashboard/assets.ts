// The dashboard's files, read once into memory when the plugin applies: the page (index.html),
// its own scripts and styles (plain ES modules and CSS in ./assets/, no build step) and uPlot's
// browser build from the installed `uplot` package. Everything is served from the package: no CDN.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file the dashboard serves. */
export interface Asset {
  /** The bytes, as read at startup. */
  body: Buffer;
  /** Content-Type header value, with charset for text. */
  type: string;
}

/** What the dashboard serves: the page and the files under /dashboard/<hash>/. */
export interface AssetSet {
  /** index.html with the asset path filled in. */
  page: Buffer;
  /** File name (no folders) → file; the page's scripts, styles and uPlot's. */
  files: ReadonlyMap<string, Asset>;
  /** 16 hex digits of the SHA-256 of every file: part of the asset URLs, so a new release is
   *  never mixed with a cached old file and the files can be cached for good. */
  hash: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Files bigger than this are refused at startup: the folder holds a few small text files, and
 *  everything is kept in memory. */
const MAX_FILE_BYTES = 512 * 1024;

/** uPlot's browser build and its stylesheet, as shipped in the `uplot` package (no exports map:
 *  the dist files resolve by path from wherever the package is installed). */
const VENDOR = ['uplot/dist/uPlot.iife.min.js', 'uplot/dist/uPlot.min.css'] as const;

/**
 * The folder of the dashboard's own files. From the sources it is ./assets beside this module;
 * in the CLI bundle (dist/, a folder directly inside the package, see scripts/build-cli.mjs) this
 * module's code lives in dist/, and the folder is ../plugins/web-dashboard/assets from there.
 * Throws when neither exists (a broken install).
 */
export function assetsDir(moduleUrl: string = import.meta.url): string {
  for (const rel of ['./assets/', '../plugins/web-dashboard/assets/']) {
    const dir = fileURLToPath(new URL(rel, moduleUrl));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  throw new Error(`web-dashboard: its assets folder (plugins/web-dashboard/assets) is missing next to ${fileURLToPath(moduleUrl)}`);
}

/**
 * Read the page and every file it loads. `index.html` may contain `{{assets}}`, replaced by the
 * URL path prefix of the files (`/dashboard/<hash>`). Only `.js`, `.css` and `.svg` files directly
 * in `dir` are served, plus uPlot's two files; names are checked against that list at request time,
 * never joined into a path. Throws on a missing uplot package or a file over 512 KiB.
 */
export function loadAssets(dir: string = assetsDir()): AssetSet {
  const files = new Map<string, Asset>();
  const add = (name: string, path: string) => {
    const type = TYPES[extname(name)];
    if (!type) return;
    if (statSync(path).size > MAX_FILE_BYTES) throw new Error(`web-dashboard: ${path} is larger than ${MAX_FILE_BYTES} bytes`);
    files.set(name, { body: readFileSync(path), type });
  };
  for (const name of readdirSync(dir).sort()) {
    if (statSync(join(dir, name)).isFile()) add(name, join(dir, name));
  }
  const require = createRequire(import.meta.url);
  for (const spec of VENDOR) add(spec.slice(spec.lastIndexOf('/') + 1), require.resolve(spec));
  const h = createHash('sha256');
  for (const [name, a] of files) h.update(name).update('\0').update(a.body);
  const template = readFileSync(join(dir, 'index.html'), 'utf8');
  h.update(template);
  const hash = h.digest('hex').slice(0, 16);
  return { page: Buffer.from(template.replaceAll('{{assets}}', `/dashboard/${hash}`)), files, hash };
}

/**
 * The security headers of every dashboard answer. The Content-Security-Policy allows scripts,
 * styles and connections to this origin only: no inline script or style attribute, no eval, no
 * framing, no form posting anywhere (the token form is handled by script, so the token can never
 * end up in a URL even when the script fails to load).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});
