// `ten init`: reading the manifests of an app's folder (cli/init-detect.ts decides what they mean):
// a file that is there but is none, the text without a byte order mark, the name each gives.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { TenementError } from '../core/errors.ts';

/** The manifests ten init reads, in the order it tries them. */
export const MANIFESTS = ['Procfile', 'package.json', 'pyproject.toml', 'requirements.txt', 'go.mod', 'Cargo.toml'] as const;
export type Manifest = (typeof MANIFESTS)[number];

/** `f` in `dir` is a regular file (a symlink to one counts). */
export const exists = (dir: string, f: string) => fs.statSync(path.join(dir, f), { throwIfNoEntry: false })?.isFile() ?? false;

/** Why `f` in `dir` is there but cannot be read as a manifest (a folder, a dangling symlink...),
 *  or null when it is a regular file or is not there at all. */
export function oddity(dir: string, f: string): string | null {
  const p = path.join(dir, f);
  const l = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!l) return null;
  const st = fs.statSync(p, { throwIfNoEntry: false });
  const link = l.isSymbolicLink() ? `is a symlink to ${fs.readlinkSync(p)}, which ` : 'is ';
  if (!st) return `${link}does not exist`;
  if (st.isFile()) return null;
  return `${link}${st.isDirectory() ? 'a folder' : 'not a regular file'}, not a file`;
}

/** The text of manifest `f`, without a leading UTF-8 byte order mark (npm and most editors accept
 *  one; JSON.parse and TOML parsers do not: RFC 8259 §8.1 lets a parser ignore it).
 *  TEN_ERR_INIT_MANIFEST when it cannot be read. */
export function read(dir: string, f: string): string {
  let text: string;
  try { text = fs.readFileSync(path.join(dir, f), 'utf8'); } catch (e) { throw manifestError(f, (e as Error).message); }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function manifestError(file: string, why: string): TenementError {
  return new TenementError('TEN_ERR_INIT_MANIFEST', [file, why], { file });
}

/** The app's name as manifest `m` gives it, and the key it is under; undefined when it has none
 *  or cannot be read (the manifest that decides reports that itself). */
export function manifestName(dir: string, m: Manifest): { key: string; value: string } | undefined {
  try {
    if (m === 'package.json') {
      const pkg = JSON.parse(read(dir, m)) as unknown;
      return isObject(pkg) && typeof pkg.name === 'string' ? { key: 'name', value: pkg.name } : undefined;
    }
    if (m === 'pyproject.toml') {
      const doc = parseToml(read(dir, m)) as { project?: { name?: unknown }; tool?: { poetry?: { name?: unknown } } };
      if (typeof doc.project?.name === 'string') return { key: '[project] name', value: doc.project.name };
      return typeof doc.tool?.poetry?.name === 'string' ? { key: '[tool.poetry] name', value: doc.tool.poetry.name } : undefined;
    }
    if (m === 'Cargo.toml') {
      const doc = parseToml(read(dir, m)) as { package?: { name?: unknown } };
      return typeof doc.package?.name === 'string' ? { key: '[package] name', value: doc.package.name } : undefined;
    }
    if (m === 'go.mod') {
      const mod = /^module\s+(\S+)/m.exec(read(dir, m))?.[1];
      return mod ? { key: 'module', value: mod.split('/').pop()! } : undefined;
    }
  } catch { /* unreadable: no name from it */ }
  return undefined;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
