// `ten init`: what to run for the app in a folder, read from its manifests. Looked for in this
// order, the first found decides (the others are reported in `also`):
//   Procfile          its `web:` line (Heroku's process type that gets HTTP traffic)
//   package.json      scripts.start, else npm's default `node server.js` when server.js exists
//                     (docs.npmjs.com, cli/commands/npm-start), else `node <main>`
//   pyproject.toml    a main module (app.py, main.py, server.py), else [project.scripts] (PEP 621)
//   requirements.txt  or [tool.poetry.scripts]; run with `python3 -u` (unbuffered: lines reach the log)
//   go.mod            `go run .`
//   Cargo.toml        `cargo run --release`
// Shell syntax in a script or Procfile line is sorted by splitScript (init-script.ts).
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { TenementError } from '../core/errors.ts';
import { exists, isObject, manifestError, manifestName, MANIFESTS, oddity, read, type Manifest } from './init-manifest.ts';
import { splitScript } from './init-script.ts';
import { shown } from './output.ts';

export { MANIFESTS, type Manifest } from './init-manifest.ts';

/** What `ten init` writes for one app: the [service.NAME] table and what to tell the user. */
export interface AppPlan {
  /** What decided the command: `package.json scripts.start`, `go.mod`, `--command`, ... */
  source: string;
  /** Service name: a DNS label (from the manifest's name, else the folder's). */
  name: string;
  /** Where the name comes from: `--name`, `package.json name "shop"`, `the folder "Mon App"`. */
  nameFrom: string;
  argv: string[];
  env: Record<string, string>;
  /** Working directory relative to the config file's folder, when not that folder. */
  workdir?: string;
  /** HTTP health path found in the entry file (`"/health"`, `"/healthz"`), else null: TCP probe. */
  health: string | null;
  /** Seconds, when the default 30 s is too short (compiling at start). */
  startup_timeout?: number;
  /** What the user should know: written as comments and printed. */
  notes: string[];
  /** Manifests found but not used. */
  also: Manifest[];
  /** `user` for the service, and why (ten init sets it when ten serve's default user cannot
   *  read the app's folder but its owner, not root, can). */
  user?: { name: string; why: string };
  /** What stops the file from running as is: written as comments and printed on stderr. */
  warnings?: string[];
}

/** What one manifest says, or why it says nothing runnable (a string). */
type Found = Omit<AppPlan, 'name' | 'nameFrom' | 'also' | 'health'> & { entry?: string; viaShell?: boolean };

/** A DNS label made from `s`: lowercased, accents dropped (Unicode NFKD, then the combining marks
 *  removed: `été` → `ete`), an npm scope dropped, other characters turned into `-`, at most 63
 *  characters; '' when nothing is left. */
export function toLabel(s: string): string {
  const plain = s.normalize('NFKD').replace(/\p{M}+/gu, '');
  return plain.toLowerCase().replace(/^@[^/]*\//, '').replace(/[^a-z0-9]+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
}


/** The plan for the app in `dir`; `name` (a DNS label) wins over the manifest's. Throws
 *  TEN_ERR_INIT_MANIFEST for a manifest it cannot parse, TEN_ERR_INIT_NOTHING_FOUND (saying what
 *  each manifest lacked) when none gives a command. */
export function detectApp(dir: string, name?: string): AppPlan {
  const present = MANIFESTS.filter((m) => exists(dir, m));
  const lacks: string[] = [];
  // there but no file (a folder, a dangling symlink): said in the error, or as a note
  const odd = MANIFESTS.flatMap((m) => { const why = oddity(dir, m); return why ? [`${m} ${why}`] : []; });
  for (const m of MANIFESTS) {
    if (!present.includes(m)) {
      lacks.push(...odd.filter((o) => o.startsWith(`${m} `)));
      continue;
    }
    const found = DETECT[m](dir);
    if (typeof found === 'string') lacks.push(`${m} ${found}`);
    else return plan(dir, { ...found, notes: [...odd.map((o) => `${o}: not read`), ...found.notes] }, name, m, present.filter((x) => x !== m));
  }
  const looked = lacks.length > 0 ? lacks.join('; ') : `none of ${MANIFESTS.join(', ')} is there`;
  throw new TenementError('TEN_ERR_INIT_NOTHING_FOUND', [dir, looked], { dir });
}

/** The plan for `--command` (already split into argv by the caller). */
export function commandPlan(dir: string, argv: string[], name?: string): AppPlan {
  const also = MANIFESTS.filter((m) => exists(dir, m));
  const entry = argv.slice(1).find((a) => /\.(m?js|cjs|ts|py)$/.test(a));
  return plan(dir, { source: '--command', argv, env: {}, notes: [], entry }, name, undefined, also);
}

/** The plan from what manifest `by` (undefined: --command) found. The name: `name`, else the
 *  first name a manifest gives (`by`'s first, then the others in MANIFESTS order: a Procfile has
 *  none, its package.json may), else the folder's, else `app`. */
function plan(dir: string, f: Found, name: string | undefined, by: Manifest | undefined, also: Manifest[]): AppPlan {
  const { entry, viaShell: _shell, ...rest } = f;
  const health = entry ? healthPath(path.join(dir, f.workdir ?? '.', entry)) : null;
  return { ...rest, ...chooseName(dir, name, [...(by ? [by] : []), ...also]), health, also };
}

function chooseName(dir: string, name: string | undefined, manifests: Manifest[]): Pick<AppPlan, 'name' | 'nameFrom'> {
  if (name !== undefined) return { name, nameFrom: '--name' };
  for (const m of manifests) {
    const own = manifestName(dir, m);
    if (own && toLabel(own.value)) return { name: toLabel(own.value), nameFrom: `${m} ${own.key} ${JSON.stringify(own.value)}` };
  }
  const folder = path.basename(dir);
  return toLabel(folder) ? { name: toLabel(folder), nameFrom: `the folder ${JSON.stringify(folder)}` } : { name: 'app', nameFrom: 'no name found' };
}


/** `"/health"` or `"/healthz"` when the file has it as a quoted string, else null. */
function healthPath(file: string): string | null {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8').slice(0, 1_000_000); } catch { return null; }
  const m = /["'`](\/healthz?)["'`]/.exec(text);
  return m ? m[1]! : null;
}

const DETECT: Record<Manifest, (dir: string) => Found | string> = {
  Procfile(dir) {
    const line = read(dir, 'Procfile').split('\n').find((l) => /^web\s*:/.test(l));
    if (!line) return 'has no web: line';
    const script = line.replace(/^web\s*:/, '').trim();
    return fromScript(dir, 'Procfile web:', script, ['sh', '-c', script], 'Heroku runs Procfile lines with a shell too');
  },
  'package.json'(dir) {
    let pkg: unknown;
    const text = read(dir, 'package.json');
    try { pkg = JSON.parse(text); } catch (e) { throw manifestError('package.json', (e as Error).message); }
    if (!isObject(pkg)) throw manifestError('package.json', `it is ${pkg === null ? 'null' : Array.isArray(pkg) ? 'an array' : `a ${typeof pkg}`}, not a JSON object`);
    const start = isObject(pkg.scripts) ? pkg.scripts.start : undefined;
    if (typeof start === 'string' && start.trim() !== '') {
      const f = fromScript(dir, 'package.json scripts.start', start, ['npm', 'start'], 'npm runs scripts with sh');
      // npm puts node_modules/.bin on the PATH of a script (docs.npmjs.com, cli/using-npm/scripts)
      const bin = f.argv[0]!;
      if (!f.viaShell && !bin.includes('/') && exists(dir, `node_modules/.bin/${bin}`)) f.argv[0] = `node_modules/.bin/${bin}`;
      return f;
    }
    const main = exists(dir, 'server.js') ? 'server.js' : typeof pkg.main === 'string' && exists(dir, pkg.main) ? pkg.main : undefined;
    if (!main) return 'has no scripts.start, no server.js and no main file';
    const why = main === 'server.js' ? 'no scripts.start: npm start\'s default, server.js' : 'no scripts.start: its main';
    return { source: `package.json (${why})`, argv: ['node', main], env: {}, notes: [], entry: main };
  },
  'pyproject.toml'(dir) {
    let doc: { project?: { scripts?: Record<string, unknown> }; tool?: { poetry?: { scripts?: Record<string, unknown> } } };
    const text = read(dir, 'pyproject.toml');
    try { doc = parseToml(text) as typeof doc; } catch (e) { throw manifestError('pyproject.toml', (e as Error).message.split('\n')[0]!); }
    const main = python(dir, 'pyproject.toml');
    if (typeof main !== 'string') return main;
    const scripts = Object.entries({ ...doc.tool?.poetry?.scripts, ...doc.project?.scripts }).filter(([, v]) => typeof v === 'string') as Array<[string, string]>;
    const ref = scripts.length > 0 ? /^\s*([\w.]+)\s*:\s*([\w.]+)\s*$/.exec(scripts[0]![1]) : null;
    if (!ref) return `${main} and no [project.scripts] entry "module:function"`;
    const [, mod, fn] = ref;
    const head = fn!.split('.')[0]!;
    const src = fs.statSync(path.join(dir, 'src'), { throwIfNoEntry: false })?.isDirectory();
    return {
      source: `pyproject.toml [project.scripts] ${scripts[0]![0]}`,
      argv: [pythonBin(dir), '-u', '-c', `import sys; from ${mod} import ${head}; sys.exit(${fn}())`],
      env: src ? { PYTHONPATH: 'src' } : {},
      notes: [`runs the entry point ${scripts[0]![1]} without installing the package${scripts.length > 1 ? ` (the first of ${scripts.length}: ${scripts.map(([k]) => k).join(', ')})` : ''}`],
      entry: `${src ? 'src/' : ''}${mod!.replace(/\./g, '/')}.py`,
    };
  },
  'requirements.txt'(dir) {
    return python(dir, 'requirements.txt');
  },
  'go.mod'(dir) {
    read(dir, 'go.mod'); // readable (its module names the service: manifestName)
    return {
      source: 'go.mod', argv: ['go', 'run', '.'], env: {}, startup_timeout: 300,
      notes: ['go run compiles at each start: for production build once (go build -o app .) and set command = "./app"'],
      entry: exists(dir, 'main.go') ? 'main.go' : undefined,
    };
  },
  'Cargo.toml'(dir) {
    let doc: { package?: { name?: unknown } };
    const text = read(dir, 'Cargo.toml');
    try { doc = parseToml(text) as typeof doc; } catch (e) { throw manifestError('Cargo.toml', (e as Error).message.split('\n')[0]!); }
    const name = typeof doc.package?.name === 'string' ? doc.package.name : undefined;
    return {
      source: 'Cargo.toml', argv: ['cargo', 'run', '--release'], env: {}, startup_timeout: 600,
      notes: [`cargo run builds at each start: for production build once (cargo build --release) and set command = "target/release/${name ?? 'NAME'}"`],
      entry: exists(dir, 'src/main.rs') ? 'src/main.rs' : undefined,
    };
  },
};

/** A shell script as argv (see splitScript), or `fallback` (a program that has a shell) when it
 *  needs one, with a note saying why. */
function fromScript(dir: string, source: string, script: string, fallback: string[], fallbackWhy: string): Found {
  const s = splitScript(script);
  if (s.kind === 'shell') {
    return { source: `${source} ${JSON.stringify(script)}`, argv: [...fallback], env: {}, viaShell: true,
      notes: [`the script needs a shell (${s.why}) and tenement never runs one: ${shown(fallback.slice(0, 2))} runs it (${fallbackWhy}); write the app's own command instead to save that process`] };
  }
  const notes = s.setup.length > 0 ? [`run once before ten serve (the script runs it at every start): ${s.setup.join(' && ')}`] : [];
  return { source: `${source} ${JSON.stringify(script)}`, argv: s.argv, env: s.env, notes,
    entry: s.argv.slice(1).find((a) => /\.(m?js|cjs|ts|py)$/.test(a) && exists(path.join(dir, s.workdir ?? '.'), a)),
    ...(s.workdir === undefined ? {} : { workdir: s.workdir }) };
}

/** The main module of a Python app (app.py, main.py, server.py: the first found), run unbuffered. */
function python(dir: string, manifest: string): Found | string {
  const main = ['app.py', 'main.py', 'server.py'].find((f) => exists(dir, f));
  if (!main) return 'is there, but no app.py, main.py or server.py';
  return { source: `${manifest} (main module ${main})`, argv: [pythonBin(dir), '-u', main], env: {}, notes: [], entry: main };
}

/** The project's virtual environment's interpreter when there is one, else python3 from PATH. */
function pythonBin(dir: string): string {
  return exists(dir, '.venv/bin/python3') ? '.venv/bin/python3' : 'python3';
}
