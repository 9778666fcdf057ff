// Docs that run (issue 13), part 2: runs a page's blocks against a real `ten serve`.
// Each page runs in temp folders of its own; a block runs in the page's current "session": a
// folder holding the config in force as ./tenement.toml (its port the session's free port), and
// a ten serve started there (own process group) unless the block says `serve=none`. Header keys
// (the page runs them in order):
//   config=NAME   the config: `repo` (the repository's tenement.toml, the default), `none`, a
//                 named ```toml block of the page, or a path under the repository; `A+B` is A
//                 followed by B (`repo+bad`: the repository's with the page's `bad`); a new config
//                 starts a new session (new folder, empty data dir), as does `fresh`;
//   copy=DIR      the session folder starts as a copy of DIR (a repository folder, e.g. an example);
//   dir=PATH      the folder the page shows for the session's (`/srv/app`): commands get the real
//                 one, output shows PATH; it holds for the page's later blocks;
//   setup="CMDS"  bash run in the session before the block, output not compared (exit 0 needed);
//   numbers       mask every number of the block's output (counts of a load that varies);
//                 numbers=TEXT only in the output of commands containing TEXT;
//   mask=REGEX    what the regular expression matches varies (a random cookie, which of two
//                 instances a random key lands on): replaced in the output shown and printed;
//   unordered     the output's lines may come in any order (logs of concurrent sources);
//   restart       ten serve is stopped (SIGTERM) and started again in the session before the block;
//   background="CMD"  CMD runs in the session from this block on (a second terminal's load loop),
//                 ended with the session or by a later block's `end-background`.
// In commands, port 8080 is the session's; `/work/main` (the checkout the docs were recorded in)
// is this repository. In output both are written back. `ten` is bin/ten.js, through a shim on PATH.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'smol-toml';
import { cgroupTag } from '../../core/cgroup.ts';
import { freePort } from '../../core/net.ts';
import { killLeftovers, removeCgroups, request, ROOT, waitFor } from '../integration/harness.ts';
import { matches, type Block, type MaskOptions, type Page, type Step } from './sessions.ts';

/** Where the docs were recorded: shown in them for this repository. */
const SHOWN_ROOT = '/work/main';
/** What a copy leaves out: what running an example in place writes. */
const WRITTEN = new Set(['tenement.toml', 'tenement-data', 'serve.log', 'node_modules', '__pycache__', 'data']);

/** The outcome of one step: `ok` when its output matched (masked). */
export interface StepResult extends Step { ran: string; actual: string; ok: boolean }

/** A page's run: one temp root for every session of the page, removed by `close()`. */
export class PageRun {
  readonly root: string;
  private readonly env: NodeJS.ProcessEnv;
  private session: { key: string; dir: string; cwd: string; port: number; dataDir: string; serve: ChildProcess | null; background: ChildProcess[] } | null = null;
  private shown = '/srv/app';
  private readonly dataDirs: string[] = [];
  /** The exit code of the last command, for a following `echo $?`. */
  private lastCode = 0;
  /** Variables the session's `export` steps set. */
  private readonly exported = new Set<string>();

  constructor(readonly file: string, private readonly page: Page) {
    this.root = mkdtempSync(join(tmpdir(), 'ten-docs-'));
    // run as root, ten serve starts the apps as nobody: they must reach their folder
    chmodSync(this.root, 0o755);
    const bin = join(this.root, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'ten'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin/ten.js')}" "$@"\n`, { mode: 0o755 });
    this.env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1', TENEMENT_LOG_PRETTY: '0' };
    for (const k of ['TENEMENT_SERVER', 'TENEMENT_TOKEN', 'TENEMENT_CONFIG', 'FORCE_COLOR']) delete this.env[k];
  }

  /** Runs `block` (set-up first), each step once; resolves with every step's result. */
  async run(block: Block): Promise<StepResult[]> {
    const h = block.header;
    if (h.dir) this.shown = h.dir;
    const config = h.config ?? this.session?.key.split('|')[0] ?? 'repo';
    const key = `${config}|${h.copy ?? ''}|${h.serve ?? ''}`;
    if (!this.session || this.session.key !== key || 'fresh' in h) await this.start(key, config, h);
    else if ('restart' in h) await this.restartServe();
    if ('end-background' in h) await stopAll(this.session!.background.splice(0));
    if (h.setup) {
      const r = await this.exec(this.real(h.setup), this.session!.cwd);
      if (r.code !== 0) throw new Error(`${this.file}:${block.line}: setup "${h.setup}" exited ${r.code}:\n${r.output}`);
    }
    if (h.background) {
      const child = spawn('bash', ['-c', this.real(h.background)], { cwd: this.session!.cwd, env: this.env, detached: true, stdio: 'ignore' });
      this.session!.background.push(child);
    }
    const mask = h.mask ? new RegExp(h.mask, 'g') : undefined;
    const results: StepResult[] = [];
    for (const step of block.steps) results.push(await this.step(step, { numbers: h.numbers !== undefined && step.command.includes(h.numbers), mask, unordered: 'unordered' in h }));
    return results;
  }

  private async step(step: Step, opts: MaskOptions): Promise<StepResult> {
    const s = this.session!;
    let ran = this.real(step.command);
    const cd = /^cd\s+(\S+)$/.exec(ran);
    if (cd) {
      const to = resolve(s.cwd, cd[1]!);
      if (existsSync(to)) s.cwd = to;
      else if (basename(to) !== basename(s.dir)) return { ...step, ran, actual: `no folder ${to}`, ok: false };
      return { ...step, ran, actual: '', ok: step.expected.trim() === '' };
    }
    if (/^ten init\b/.test(ran) && !ran.includes('--port')) ran = ran.replace(/^ten init\b/, `ten init --port ${s.port}`);
    if (ran.endsWith('&')) {
      const child = spawn('bash', ['-c', `exec ${ran.slice(0, -1).trim()}`], { cwd: s.cwd, env: this.env, detached: true, stdio: 'ignore' });
      s.background.push(child);
      if (/\bten serve\b/.test(ran)) await this.ready(child, s.cwd);
      return { ...step, ran, actual: '', ok: step.expected.trim() === '' };
    }
    const exported = /^export\s+(\w+)=(.*)$/.exec(ran);
    if (exported) {
      const r = await this.exec(`export ${exported[1]}=${exported[2]}; printf %s "$${exported[1]}"`, s.cwd);
      this.env[exported[1]!] = r.output;
      this.exported.add(exported[1]!);
      return { ...step, ran, actual: '', ok: r.code === 0 && step.expected.trim() === '' };
    }
    const r = await this.exec(`(exit ${this.lastCode}); ${ran}`, s.cwd);
    this.lastCode = r.code;
    const actual = this.shownText(r.output);
    this.learn(step.expected, actual);
    return { ...step, ran, actual, ok: matches(step.expected, actual, opts) };
  }

  /** Token ids the page shows → the ones this run made: when a command printed as many ids
   *  (12 hex digits) as the page shows under it, later commands get this run's (`ten token
   *  revoke 66a1af529197` revokes the token the run's `ten token create` made). */
  private readonly ids = new Map<string, string>();
  private learn(expected: string, actual: string): void {
    const find = (t: string) => [...t.matchAll(/\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{12}\b/g)].map((m) => m[0]);
    const [e, a] = [find(expected), find(actual)];
    if (e.length === a.length) e.forEach((id, i) => this.ids.set(id, a[i]!));
  }

  /** Shown paths, ids and port → the real ones. */
  private real(text: string): string {
    const s = this.session!;
    for (const [shown, real] of this.ids) text = text.replaceAll(shown, real);
    return swap(text, [[this.shown, s.dir], [`${dirname(this.shown)}/`, `${dirname(s.dir)}/`], [SHOWN_ROOT, ROOT], [/\b8080\b/, String(s.port)]]);
  }

  /** Real paths and port → the shown ones. */
  private shownText(text: string): string {
    const s = this.session!;
    return swap(text, [[s.dir, this.shown], [`${dirname(s.dir)}/`, `${dirname(this.shown)}/`], [ROOT, SHOWN_ROOT], [new RegExp(`\\b${s.port}\\b`), '8080']]);
  }

  private async start(key: string, config: string, h: Record<string, string>): Promise<void> {
    await this.stopSession();
    // a new session starts from the page's environment: what a block exported is gone
    for (const k of this.exported) delete this.env[k];
    this.exported.clear();
    const parent = join(this.root, `s${this.dataDirs.length + 1}`);
    mkdirSync(parent);
    chmodSync(parent, 0o755);
    const dir = join(parent, h.copy ? basename(h.copy) : basename(this.shown));
    if (h.copy) {
      cpSync(join(ROOT, h.copy), dir, { recursive: true, filter: (src) => !WRITTEN.has(basename(src)) });
      if (existsSync(join(dir, 'package.json'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    } else mkdirSync(dir);
    chmodSync(dir, 0o755);
    const port = await freePort(new Set());
    this.session = { key, dir, cwd: dir, port, dataDir: join(dir, 'tenement-data'), serve: null, background: [] };
    if (config !== 'none') {
      let text = config.split('+').map((c) => c === 'repo' ? readFileSync(join(ROOT, 'tenement.toml'), 'utf8')
        : this.page.configs[c] ?? readFileSync(join(ROOT, c), 'utf8')).join('\n');
      text = this.real(text);
      if (config.startsWith('repo')) symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'));
      const settings = (parse(text).settings ?? {}) as { data_dir?: string };
      this.session.dataDir = resolve(dir, settings.data_dir ?? './tenement-data');
      writeFileSync(join(dir, 'tenement.toml'), text.replace(/^port\s*=\s*\d+/m, `port = ${port}`));
    }
    this.dataDirs.push(this.session.dataDir);
    if (h.before) {
      const r = await this.exec(this.real(h.before), dir);
      if (r.code !== 0) throw new Error(`${this.file}: before "${h.before}" exited ${r.code}:\n${r.output}`);
    }
    if (config !== 'none' && h.serve !== 'none') await this.startServe();
  }

  /** ten serve in the session's folder, its log appended to serve.log; resolves once it is ready. */
  private async startServe(): Promise<void> {
    const s = this.session!;
    const child = spawn('bash', ['-c', 'exec ten serve >> serve.log 2>&1'], { cwd: s.dir, env: this.env, detached: true, stdio: 'ignore' });
    s.serve = child;
    await this.ready(child, s.dir);
  }

  /** The session's ten serve stopped as systemctl would (SIGTERM), then started again. */
  private async restartServe(): Promise<void> {
    const s = this.session!;
    if (s.serve) await stopAll([s.serve]);
    await this.startServe();
  }

  /** ten serve answers /health on the session's port and none of its instances is starting. */
  private async ready(child: ChildProcess, dir: string): Promise<void> {
    const s = this.session!;
    const log = () => { try { return readFileSync(join(dir, 'serve.log'), 'utf8').slice(-2000); } catch { return ''; } };
    await waitFor(`ten serve on port ${s.port}`, async () => {
      if (child.exitCode !== null) throw new Error(`ten serve exited with ${child.exitCode}:\n${log()}`);
      return request(s.port, 'localhost', '/health').then((r) => r.status === 200, () => false);
    }, 30_000);
    const token = readFileSync(join(s.dataDir, 'api_token'), 'utf8').trim();
    await waitFor('its instances started', async () => {
      const r = await request(s.port, 'localhost', '/api/instances', { headers: { authorization: `Bearer ${token}` } });
      const list = r.status === 200 ? r.json().instances as Array<{ state: string }> : [];
      return list.every((i) => i.state !== 'starting');
    }, 30_000);
  }

  private exec(command: string, cwd: string): Promise<{ code: number; output: string }> {
    return new Promise((done) => {
      const child = spawn('bash', ['-c', `exec 2>&1\n${command}`], { cwd, env: this.env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
      let output = '';
      child.stdout.on('data', (d) => { output += d; });
      const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 60_000);
      child.once('close', (code) => { clearTimeout(timer); done({ code: code ?? 1, output }); });
    });
  }

  private async stopSession(): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.session = null;
    await stopAll([...s.background, ...(s.serve ? [s.serve] : [])]);
  }

  /** Stops every process of the page and removes its folders. */
  async close(): Promise<void> {
    await this.stopSession();
    killLeftovers(this.root);
    for (const d of this.dataDirs) removeCgroups(cgroupTag(d));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** SIGTERM to each child's process group, SIGKILL 15 s later; resolves when all have exited. */
function stopAll(children: ChildProcess[]): Promise<unknown> {
  return Promise.all(children.map((child) => new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const kill = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
    child.once('exit', () => { clearTimeout(kill); done(); });
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { done(); }
  })));
}

/** `text` with each `from` replaced by its `to`, in one pass: what one pair wrote is never
 *  rewritten by a later one (`/tmp/guide` → `/tmp/ten-docs-x/s1/guide` must not then have its
 *  `/tmp/` replaced too); where two match at one place, the earlier pair wins. */
function swap(text: string, pairs: Array<[string | RegExp, string]>): string {
  const source = pairs.map(([from]) => `(${typeof from === 'string' ? from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : from.source})`).join('|');
  return text.replace(new RegExp(source, 'g'), (...m: string[]) => pairs[m.slice(1, pairs.length + 1).findIndex((g) => g !== undefined)]![1]);
}
