// `ten init`'s detection (cli/init-detect.ts, cli/init-script.ts) on manifests written to temp
// folders, and the command itself (run in this process, in the app's folder): what it writes passes parseConfig (the
// check `ten config` and `ten serve` make), it refuses to overwrite, and says what to do when it
// finds nothing.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../core/config.ts';
import { TenementError } from '../../core/errors.ts';
import { detectApp, toLabel, type AppPlan } from '../../cli/init-detect.ts';
import { splitScript } from '../../cli/init-script.ts';
import { renderConfig } from '../../cli/init-toml.ts';
import { PassThrough } from 'node:stream';
import { Cli } from 'clipanion';
import { runCli } from '../../cli/index.ts';
import { INIT_PATH } from '../../core/process.ts';
import { lookup } from '../../core/run-as.ts';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A temp folder holding `files` (path → text). */
function app(files: Record<string, string>, name = 'my-app'): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'ten-init-')), name);
  dirs.push(join(dir, '..'));
  mkdirSync(dir);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

/** Detect, render, and check the result the way ten config does; returns the plan and the service. */
function detect(files: Record<string, string>, name?: string) {
  const dir = app(files);
  const plan = detectApp(dir, name);
  const config = parseConfig(renderConfig(plan, { port: 8080, data_dir: './tenement-data' }), join(dir, 'tenement.toml'));
  return { plan, svc: config.services[plan.name]!, config, dir };
}

const pkg = (o: object) => JSON.stringify(o);

/** `ten ARGS` run in this process with `cwd` as the working directory. */
async function runTen(args: string[], opts: { cwd: string }): Promise<{ code: number; stdout: string; stderr: string }> {
  const [out, err] = [new PassThrough(), new PassThrough()];
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += c));
  err.on('data', (c) => (stderr += c));
  const was = process.cwd();
  process.chdir(opts.cwd);
  try {
    const code = await runCli(args, { ...Cli.defaultContext, stdout: out, stderr: err, colorDepth: 1 });
    return { code, stdout, stderr };
  } finally {
    process.chdir(was);
  }
}

describe('detection, one manifest kind at a time', () => {
  test('package.json: scripts.start, the name made a DNS label, /health found in the entry file', () => {
    const { plan, svc, config } = detect({ 'package.json': pkg({ name: '@acme/Web_App', scripts: { start: 'node server.js' } }), 'server.js': "app.get('/health', ok)" });
    assert.equal(plan.name, 'web-app');
    assert.deepEqual(svc.argv, ['node', 'server.js']);
    assert.equal(svc.health, '/health');
    assert.deepEqual(config.instances, { 'web-app': ['prod'] });
    assert.match(plan.source, /^package\.json scripts\.start/);
  });

  test('package.json without start: server.js (npm start\'s default), else main', () => {
    assert.deepEqual(detect({ 'package.json': pkg({ main: 'index.js' }), 'server.js': '', 'index.js': '' }).svc.argv, ['node', 'server.js']);
    const { svc, plan } = detect({ 'package.json': pkg({ main: 'lib/main.js' }), 'lib/main.js': 'if (url === "/healthz")' });
    assert.deepEqual(svc.argv, ['node', 'lib/main.js']);
    assert.equal(svc.health, '/healthz');
    assert.equal(plan.name, 'my-app', 'no name in package.json: the folder\'s');
  });

  test('package.json: a bin of node_modules/.bin is run from there (npm puts it on PATH)', () => {
    const { svc } = detect({ 'package.json': pkg({ scripts: { start: 'fastify start -l info app.js' } }), 'node_modules/.bin/fastify': '' });
    assert.deepEqual(svc.argv, ['node_modules/.bin/fastify', 'start', '-l', 'info', 'app.js']);
  });

  test('pyproject.toml: the main module, run unbuffered; requirements.txt alone too', () => {
    const { plan, svc } = detect({ 'pyproject.toml': '[project]\nname = "Py_Thing"\n', 'main.py': 'if self.path == "/health":' });
    assert.equal(plan.name, 'py-thing');
    assert.deepEqual(svc.argv, ['python3', '-u', 'main.py']);
    assert.equal(svc.health, '/health');
    assert.deepEqual(detect({ 'requirements.txt': 'flask\n', 'app.py': '', 'server.py': '' }).svc.argv, ['python3', '-u', 'app.py']);
    assert.deepEqual(detect({ 'requirements.txt': '', 'server.py': '', '.venv/bin/python3': '' }).svc.argv, ['.venv/bin/python3', '-u', 'server.py']);
  });

  test('pyproject.toml [project.scripts]: the entry point run without installing (src layout on PYTHONPATH)', () => {
    const { plan, svc } = detect({ 'pyproject.toml': '[project]\nname = "svc"\n[project.scripts]\nserve = "svc.web:main"\nadmin = "svc.cli:run"\n', 'src/svc/web.py': '' });
    assert.deepEqual(svc.argv, ['python3', '-u', '-c', 'import sys; from svc.web import main; sys.exit(main())']);
    assert.deepEqual(svc.env, { PYTHONPATH: 'src' });
    assert.match(plan.notes.join('\n'), /first of 2: serve, admin/);
  });

  test('go.mod and Cargo.toml: go run . / cargo run --release, with a longer startup_timeout', () => {
    const go = detect({ 'go.mod': 'module github.com/acme/Billing\n\ngo 1.22\n', 'main.go': 'http.HandleFunc("/healthz", h)' });
    assert.equal(go.plan.name, 'billing');
    assert.deepEqual(go.svc.argv, ['go', 'run', '.']);
    assert.equal(go.svc.health, '/healthz');
    assert.equal(go.svc.startup_timeout, 300);
    const rust = detect({ 'Cargo.toml': '[package]\nname = "rusty_api"\nversion = "0.1.0"\n' });
    assert.equal(rust.plan.name, 'rusty-api');
    assert.deepEqual(rust.svc.argv, ['cargo', 'run', '--release']);
    assert.equal(rust.svc.health, undefined, 'no health path found: the TCP probe');
  });

  test('Procfile: the web: line, first among manifests; the others are listed in also', () => {
    const { plan, svc } = detect({ Procfile: 'worker: node worker.js\nweb: node web.js --port-from-env\n', 'package.json': pkg({ scripts: { start: 'node other.js' } }) });
    assert.deepEqual(svc.argv, ['node', 'web.js', '--port-from-env']);
    assert.deepEqual(plan.also, ['package.json']);
  });

  test('--name wins over the manifest\'s name', () => {
    assert.equal(detect({ 'package.json': pkg({ name: 'x', scripts: { start: 'node a.js' } }) }, 'api').plan.name, 'api');
  });
});

describe('shell syntax in start scripts', () => {
  test('a plain command, with NAME=value words moved to env', () => {
    assert.deepEqual(splitScript('NODE_ENV=production node --enable-source-maps dist/main.js'),
      { kind: 'argv', argv: ['node', '--enable-source-maps', 'dist/main.js'], env: { NODE_ENV: 'production' }, setup: [] });
  });

  test('a && list: the last command runs, the others are build steps; a leading cd is the workdir', () => {
    assert.deepEqual(splitScript('cd server && npm run build && node dist/main.js'),
      { kind: 'argv', argv: ['node', 'dist/main.js'], env: {}, setup: ['npm run build'], workdir: 'server' });
    const { plan, svc, dir } = detect({ 'package.json': pkg({ scripts: { start: 'tsc; node "out dir/app.js"' } }) });
    assert.deepEqual(svc.argv, ['node', 'out dir/app.js']);
    assert.match(plan.notes[0]!, /run once before ten serve .*: tsc$/);
    const text = renderConfig(plan, { port: 8080, data_dir: './d' });
    assert.match(text, /^args = \["node", "out dir\/app\.js"\]/m, 'a word with a space: written as args');
    assert.equal(parseConfig(text, join(dir, 'tenement.toml')).services[plan.name]!.workdir, dir);
  });

  test('what needs a shell is named', () => {
    for (const [script, why] of [
      ['node server.js | tee log', /operator \|/], ['node a.js > out.log', /operator >/], ['node a.js || exit 1', /operator \|\|/],
      ['next start -p $PORT', /expands \$PORT/], ['node *.js', /glob/], ['node a.js # comment', /comment/], ['node a.js &', /operator &/],
      ['node a.js && cd x && node b.js', /cd/], ['FOO=1', /only sets variables/], ['', /empty/],
    ] as const) {
      const r = splitScript(script);
      assert.equal(r.kind, 'shell', script);
      assert.match((r as { why: string }).why, why, script);
    }
  });

  test('a start script that needs a shell runs through npm start; a Procfile line through sh -c', () => {
    const npm = detect({ 'package.json': pkg({ scripts: { start: 'node server.js --port $PORT' } }) });
    assert.deepEqual(npm.svc.argv, ['npm', 'start']);
    assert.match(npm.plan.notes[0]!, /needs a shell \(it expands \$PORT\)/);
    const proc = detect({ Procfile: 'web: gunicorn app:app --bind 127.0.0.1:$PORT\n' });
    assert.deepEqual(proc.svc.argv, ['sh', '-c', 'gunicorn app:app --bind 127.0.0.1:$PORT']);
  });
});

describe('nothing to run, bad manifests, names', () => {
  const code = (fn: () => unknown, c: string, message?: RegExp) => assert.throws(fn, (e: unknown) =>
    e instanceof TenementError && e.code === c && (message === undefined || message.test(e.message)));

  test('an empty folder, or manifests without a command: TEN_ERR_INIT_NOTHING_FOUND saying what each lacked', () => {
    code(() => detectApp(app({})), 'TEN_ERR_INIT_NOTHING_FOUND', /none of Procfile, package\.json/);
    code(() => detectApp(app({ 'package.json': pkg({ name: 'lib' }), 'requirements.txt': '' })), 'TEN_ERR_INIT_NOTHING_FOUND',
      /package\.json has no scripts\.start.*; requirements\.txt is there, but no app\.py/);
    code(() => detectApp(app({ Procfile: 'worker: x\n' })), 'TEN_ERR_INIT_NOTHING_FOUND', /Procfile has no web: line/);
  });

  test('a manifest that does not parse: TEN_ERR_INIT_MANIFEST', () => {
    code(() => detectApp(app({ 'package.json': '{ "name": ' })), 'TEN_ERR_INIT_MANIFEST', /^cannot read package\.json/);
    code(() => detectApp(app({ 'pyproject.toml': '[project\n', 'app.py': '' })), 'TEN_ERR_INIT_MANIFEST', /^cannot read pyproject\.toml/);
  });

  test('a manifest that is there but is no file (a folder, a dangling symlink) is named with what is wrong with it', () => {
    const folder = app({});
    mkdirSync(join(folder, 'package.json'));
    code(() => detectApp(folder), 'TEN_ERR_INIT_NOTHING_FOUND', /: package\.json is a folder, not a file$/);
    const dangling = app({});
    symlinkSync('nowhere.json', join(dangling, 'package.json'));
    code(() => detectApp(dangling), 'TEN_ERR_INIT_NOTHING_FOUND', /: package\.json is a symlink to nowhere\.json, which does not exist$/);
    writeFileSync(join(dangling, 'Procfile'), 'web: node web.js\n');
    assert.deepEqual(detectApp(dangling).notes, ['package.json is a symlink to nowhere.json, which does not exist: not read'], 'another decides: a note');
  });

  test('a package.json that is JSON but no object: TEN_ERR_INIT_MANIFEST saying what it is', () => {
    for (const [text, what] of [['[]', 'an array'], ['"str"', 'a string'], ['null', 'null'], ['42', 'a number']]) {
      code(() => detectApp(app({ 'package.json': text })), 'TEN_ERR_INIT_MANIFEST', new RegExp(`^cannot read package\\.json: it is ${what}, not a JSON object$`));
    }
  });

  test('a UTF-8 byte order mark is skipped, as npm skips it: package.json, Procfile, pyproject.toml', () => {
    const bom = '\uFEFF';
    assert.deepEqual(detect({ 'package.json': bom + pkg({ name: 'shop', scripts: { start: 'node a.js' } }) }).svc.argv, ['node', 'a.js']);
    assert.deepEqual(detect({ Procfile: `${bom}web: node web.js\r\n` }).svc.argv, ['node', 'web.js']);
    assert.equal(detect({ 'pyproject.toml': `${bom}[project]\nname = "py"\n`, 'app.py': '' }).plan.name, 'py');
  });

  test('the name: the deciding manifest\'s, else another manifest\'s (a Procfile has none), else the folder\'s; nameFrom says which', () => {
    const procfile = detect({ Procfile: 'web: node web.js\n', 'package.json': pkg({ name: 'shop' }) });
    assert.deepEqual([procfile.plan.name, procfile.plan.nameFrom], ['shop', 'package.json name "shop"']);
    const cargo = detect({ Procfile: 'web: ./run\n', 'Cargo.toml': '[package]\nname = "rusty_api"\n' });
    assert.deepEqual([cargo.plan.name, cargo.plan.nameFrom], ['rusty-api', 'Cargo.toml [package] name "rusty_api"']);
    const folder = detect({ Procfile: 'web: node web.js\n' });
    assert.deepEqual([folder.plan.name, folder.plan.nameFrom], ['my-app', 'the folder "my-app"']);
    const accents = detectApp(app({ Procfile: 'web: node web.js\n' }, 'Mon App été'));
    assert.deepEqual([accents.name, accents.nameFrom], ['mon-app-ete', 'the folder "Mon App été"']);
  });

  test('toLabel', () => {
    assert.equal(toLabel('Mon App été'), 'mon-app-ete', 'accents dropped (NFKD, combining marks removed), not turned into -');
    assert.equal(toLabel('Ｃafé_ﬁne'), 'cafe-fine', 'compatibility forms too (fullwidth, ligatures)');
    assert.equal(toLabel('@scope/My App!'), 'my-app');
    assert.equal(toLabel('---'), '');
    assert.equal(toLabel('x'.repeat(80)).length, 63);
  });
});

describe('ten init, the command', () => {
  const plan = (dir: string): AppPlan => detectApp(dir);

  test('writes tenement.toml, refuses to overwrite it, and --json says what it wrote', async () => {
    const dir = app({ 'package.json': pkg({ name: 'shop', scripts: { start: 'node server.js' } }), 'server.js': '' });
    const first = await runTen(['init', '--json', '--port', '9090'], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.equal(report.file, join(dir, 'tenement.toml'));
    assert.deepEqual([report.service, report.argv, report.port, report.health, report.instances], ['shop', ['node', 'server.js'], 9090, null, ['shop:prod']]);
    const text = readFileSync(join(dir, 'tenement.toml'), 'utf8');
    assert.equal(parseConfig(text, join(dir, 'tenement.toml')).settings.port, 9090);
    assert.equal(plan(dir).name, 'shop');
    const again = await runTen(['init'], { cwd: dir });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error TEN_ERR_INIT_EXISTS: tenement\.toml already exists: ten init never overwrites it\n {2}hint: /);
    assert.equal(readFileSync(join(dir, 'tenement.toml'), 'utf8'), text, 'left as it was');
  });

  test('nothing detected and no --command: a code and a hint; --command and --name then work', async () => {
    const dir = app({});
    const r = await runTen(['init'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error TEN_ERR_INIT_NOTHING_FOUND: found no app to run in .*\n {2}hint: pass the command that starts it: ten init --command/);
    const bad = await runTen(['init', '--command', 'node a.js | tee x'], { cwd: dir });
    assert.match(bad.stderr, /^error TEN_ERR_CONFIG_COMMAND: --command: shell operator "\|"/);
    assert.match((await runTen(['init', '--name', 'Bad_Name', '--command', 'x'], { cwd: dir })).stderr, /^error TEN_ERR_API_INVALID_NAME/);
    assert.match((await runTen(['init', '--port', '70000', '--command', 'x'], { cwd: dir })).stderr, /^error TEN_ERR_CLI_INVALID_ARGUMENT: invalid --port/);
    const ok = await runTen(['init', '--name', 'worker', '--command', './bin/serve --fast'], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^detected {3}--command\nservice {4}worker: \.\/bin\/serve --fast\n/);
    assert.deepEqual(parseConfig(readFileSync(join(dir, 'tenement.toml'), 'utf8'), join(dir, 'tenement.toml')).services.worker!.argv, ['./bin/serve', '--fast']);
  });

  test('--config naming a folder: said so, with the file to give instead', async () => {
    const dir = app({ Procfile: 'web: node web.js\n', 'package.json': pkg({ name: 'shop' }) });
    const r = await runTen(['init', '--config', dir], { cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split('\n')[0], `error TEN_ERR_CLI_INVALID_ARGUMENT: --config ${dir} is a folder: give the file to write, such as --config ${join(dir, 'tenement.toml')}`);
    const ok = await runTen(['init', '--json'], { cwd: dir });
    assert.deepEqual([JSON.parse(ok.stdout).service, JSON.parse(ok.stdout).name_from], ['shop', 'package.json name "shop"']);
    const text = await runTen(['init', '--config', 'other.toml'], { cwd: dir });
    assert.match(text.stdout, /^service {4}shop: node web\.js\nname {7}shop, from package\.json name "shop"\n/m);
  });

  test('--config elsewhere: the service gets the app folder as its workdir', async () => {
    const dir = app({ 'requirements.txt': '', 'app.py': '' });
    const r = await runTen(['init', '--config', '../conf/tenement.toml'], { cwd: dir });
    assert.equal(r.code, 1, 'the folder does not exist');
    assert.match(r.stderr, /^error TEN_ERR_CLI_INVALID_ARGUMENT: cannot write .*conf\/tenement\.toml: ENOENT/);
    mkdirSync(join(dir, '../conf'));
    const ok = await runTen(['init', '--config', '../conf/tenement.toml'], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    const file = join(dir, '../conf/tenement.toml');
    assert.ok(ok.stdout.includes(`ten serve --config ${file}`), 'outside the working directory: the absolute path');
    assert.equal(parseConfig(readFileSync(file, 'utf8'), file).services['my-app']!.workdir, dir);
  });
});

describe('ten init as root: the folder must be open to the user the apps run as', () => {
  const why = process.getuid?.() !== 0 ? 'needs root (ten serve runs apps as nobody only as root)'
    : !existsSync(INIT_PATH) ? 'needs tenement-init (npm ci builds it): it answers what nobody can enter'
      : lookup('passwd', 'nobody') === null || lookup('passwd', 'daemon') === null ? 'needs the users nobody and daemon' : undefined;

  test('under a 0700 folder of root: written, with a warning that names the folder and what to do; ten config says it too', { skip: why }, async () => {
    const dir = app({ 'package.json': pkg({ name: 'shut', scripts: { start: 'node server.js' } }), 'server.js': '' });
    const parent = join(dir, '..'); // mkdtemp: 0700, root's
    chmodSync(parent, 0o700);
    const r = await runTen(['init', '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const warning = `ten serve cannot start shut as written: its apps run as nobody, who cannot read and enter its workdir ${dir} (${parent} is closed to nobody): move the app to a folder nobody can read (such as /srv/my-app), run chmod o+x ${parent}, or set user = "..." to a user who can`;
    assert.equal(r.stderr, `warning: ${warning}\n`);
    assert.deepEqual([JSON.parse(r.stdout).warnings, JSON.parse(r.stdout).user], [[warning], null]);
    assert.ok(readFileSync(join(dir, 'tenement.toml'), 'utf8').includes(`# WARNING: ${warning}\n`));
    const config = await runTen(['config'], { cwd: dir });
    assert.equal(config.code, 0, config.stderr);
    assert.match(config.stderr, new RegExp(`^warning: ten serve cannot start service\\.shut: its apps run as nobody, who cannot read and enter its workdir ${dir} \\(${parent} is closed`));
    chmodSync(parent, 0o711);
    assert.equal((await runTen(['config'], { cwd: dir })).stderr, '', 'open: no warning');
  });

  test('in a folder of another user than root that nobody cannot reach: the owner runs the apps (user)', { skip: why }, async () => {
    const dir = app({ 'package.json': pkg({ name: 'home', scripts: { start: 'node server.js' } }), 'server.js': '' });
    const parent = join(dir, '..');
    const daemon = lookup('passwd', 'daemon')!;
    chownSync(parent, daemon, daemon);
    chownSync(dir, daemon, daemon);
    chmodSync(parent, 0o700);
    const r = await runTen(['init'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, new RegExp(`^user {7}daemon: nobody \\(ten serve's default user as root\\) cannot read and enter ${dir}; its owner daemon can$`, 'm'));
    const file = join(dir, 'tenement.toml');
    assert.equal(parseConfig(readFileSync(file, 'utf8'), file).services.home!.user, 'daemon');
    assert.equal((await runTen(['config'], { cwd: dir })).stderr, '', 'ten config: nothing stops it');
  });
});
