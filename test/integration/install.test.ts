// `ten install` / `ten uninstall` run for real (the CLI as a child process): the --dry-run output
// against a golden file, the unit it writes through systemd-analyze verify and the Caddyfile
// through caddy validate (where they are installed), --dry-run touching nothing, the refusals,
// install and uninstall with --files-only (no systemd runs here), and GET /api/tls/ask, Caddy's
// on-demand TLS question, on a real ten serve. Acceptance 2 of issue 12.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { captureCli } from './cli-helper.ts';
import { cleanup, fixtureService, ROOT, runCli, startTen } from './harness.ts';

const FIXTURE = join(ROOT, 'test/fixtures/install/tenement.toml');
const GOLDEN = join(ROOT, 'test/fixtures/golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
/** Where the unit's ProtectHome= and PrivateTmp= differ from the golden file's. */
const MOVED = /^\/(home|root|run\/user|tmp|var\/tmp)(\/|$)/;
const hasVerify = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
const hasCaddy = spawnSync('caddy', ['version'], { stdio: 'ignore' }).status === 0;
const systemdRuns = existsSync('/run/systemd/system');
const hasDaemon = spawnSync('getent', ['passwd', 'daemon'], { stdio: 'ignore' }).status === 0;

const dirs: string[] = [];
after(async () => {
  await cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ten-install-'));
  dirs.push(d);
  return d;
}

/** A copy of the fixture config in a temp folder (its data dir may be created there). */
function configCopy(): { dir: string; config: string } {
  const dir = tempDir();
  cpSync(FIXTURE, join(dir, 'tenement.toml'));
  return { dir, config: join(dir, 'tenement.toml') };
}

/** `ten ARGS` as a child process: the real binary, as an administrator runs it. */
const ten = (...args: string[]) => runCli(args, {});

/** `ten ARGS` in this process (for the refusals: many runs, no process needed). */
async function tenHere(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await captureCli(args);
  return { code: r.code, stdout: r.out, stderr: r.err };
}

/** What varies between machines and nothing else: where the checkout and node are. */
function masked(text: string): string {
  return text.split(ROOT).join('<CHECKOUT>').split(process.execPath).join('<NODE>');
}

/** Every path under `dir`, with size and mode: what "touches nothing" compares. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const s = statSync(p);
      out.push(`${p} ${s.mode.toString(8)} ${s.size} ${s.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (UPDATE) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `differs from ${file} (UPDATE_GOLDEN=1 rewrites it; review the diff)`);
}

describe('ten install --dry-run', () => {
  test('prints every file and command, as in the golden files', async (t) => {
    const moved = [ROOT, process.execPath].find((p) => MOVED.test(p));
    if (moved) return t.skip(`${moved} is under a home folder or /tmp: the unit has ProtectHome=read-only or PrivateTmp=no there, the golden file has yes`);
    const plain = await ten('install', '--domain', 'example.com', '--config', FIXTURE, '--dry-run');
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stderr, '');
    golden('install-dry-run.txt', masked(plain.stdout));

    // --caddy, --user, --port: the Caddyfile's path does not exist (nothing is moved aside)
    const caddy = await ten('install', '--domain', 'example.com', '--config', FIXTURE, '--port', '8443', '--user', 'daemon',
      '--caddy', '--caddyfile', '/nonexistent/tenement-test/Caddyfile', '--dry-run');
    assert.equal(caddy.code, 0, caddy.stderr);
    golden('install-dry-run-caddy.txt', masked(caddy.stdout));

    const json = await ten('install', '--domain', 'example.com', '--config', FIXTURE, '--dry-run', '--json');
    const plan = JSON.parse(json.stdout) as { unit: string; steps: Array<{ kind: string; argv?: string[]; path?: string; content?: string }> };
    assert.equal(plan.unit, '/etc/systemd/system/tenement.service');
    assert.deepEqual(plan.steps.map((s) => s.kind === 'write' ? `write ${s.path}` : s.argv!.join(' ')), [
      `install -d -m 0711 ${join(ROOT, 'test/fixtures/install/data')}`,
      'write /etc/systemd/system/tenement.service',
      'systemctl daemon-reload',
      'systemctl enable --now tenement.service',
    ]);
    // TimeoutStopSec: drain_timeout 15 + the longest stop_timeout 20 (api) + 10
    assert.match(plan.steps[1]!.content!, /^TimeoutStopSec=45$/m);
    assert.match(plan.steps[1]!.content!, /^KillMode=process$/m);
    assert.match(plan.steps[1]!.content!, /^Delegate=yes$/m);
    // the fixture listens on 127.0.0.1 and there is no --caddy: nothing outside reaches it
    const notes = (JSON.parse(json.stdout) as { notes: string[] }).notes;
    assert.ok(notes.some((n) => n.startsWith('ten serve listens on 127.0.0.1:8080 only, and no --caddy: nothing outside this host reaches example.com. Set listen = "0.0.0.0"')), notes.join('\n'));
    // with --caddy, loopback is what it should be: no such note
    assert.doesNotMatch(caddy.stdout, /nothing outside this host reaches/);
  });

  test('touches nothing: no unit, no Caddyfile, no data dir', async () => {
    const { dir, config } = configCopy();
    const units = tempDir();
    writeFileSync(join(dir, 'Caddyfile'), 'example.org {\n\trespond "theirs"\n}\n');
    const before = [...snapshot(dir), ...snapshot(units)];
    const r = await ten('install', '--domain', 'example.com', '--caddy', '--port', '8080', '--config', config, '--unit-dir', units, '--caddyfile', join(dir, 'Caddyfile'), '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`## 3\\. run: mv ${dir}/Caddyfile ${dir}/Caddyfile\\.before-tenement`), 'the Caddyfile there is moved aside, not lost');
    const u = await ten('uninstall', '--unit-dir', units, '--dry-run');
    assert.equal(u.code, 1, 'nothing installed');
    assert.match(u.stderr, /^error TEN_ERR_INSTALL_NOT_INSTALLED: nothing to uninstall at .*: there is none/m);
    assert.deepEqual([...snapshot(dir), ...snapshot(units)], before);
    assert.equal(existsSync(join(dir, 'data')), false);
  });
});

describe('the unit and the Caddyfile it writes', () => {
  test('pass systemd-analyze verify and caddy validate; uninstall removes them and keeps the data dir', async (t) => {
    const { dir, config } = configCopy();
    const units = tempDir();
    const caddyfile = join(dir, 'Caddyfile');
    const theirs = 'example.org {\n\trespond "theirs"\n}\n';
    writeFileSync(caddyfile, theirs);
    const r = await ten('install', '--domain', 'example.com', '--config', config, '--unit-dir', units, '--port', '8080', '--caddy', '--caddyfile', caddyfile, '--files-only');
    assert.equal(r.code, 0, r.stderr);
    console.log(r.stdout.trimEnd());
    const unit = join(units, 'tenement.service');
    assert.equal(statSync(unit).mode & 0o777, 0o644);
    assert.equal(statSync(join(dir, 'data')).mode & 0o777, 0o711, 'the data dir, made for ReadWritePaths=');
    assert.equal(readFileSync(`${caddyfile}.before-tenement`, 'utf8'), theirs);
    assert.match(readFileSync(caddyfile, 'utf8'), /ask http:\/\/127\.0\.0\.1:8080\/api\/tls\/ask/);
    assert.match(readFileSync(unit, 'utf8'), /^PrivateTmp=no$/m, 'the config is in /tmp: a private /tmp would hide it');

    // the same options again: nothing to do; other options: refused without --force
    const again = await ten('install', '--domain', 'example.com', '--config', config, '--unit-dir', units, '--port', '8080', '--caddy', '--caddyfile', caddyfile, '--files-only');
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /write .*tenement\.service/, 'an identical unit is left as it is');
    const other = await ten('install', '--domain', 'example.net', '--config', config, '--unit-dir', units, '--files-only');
    assert.equal(other.code, 1);
    assert.match(other.stderr, /^error TEN_ERR_INSTALL_FILE_EXISTS: .*tenement\.service exists/m);

    await t.test('systemd-analyze verify', (tt) => {
      if (!hasVerify) return tt.skip('systemd-analyze is not installed (apt-get install systemd)');
      const v = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stderr, '', 'no warning either (an unknown or misspelt directive is only a warning)');
    });
    await t.test('systemd-analyze security --offline: the hardening settings count', (tt) => {
      if (!hasVerify) return tt.skip('systemd-analyze is not installed (apt-get install systemd)');
      const v = spawnSync('systemd-analyze', ['security', '--offline=yes', unit], { encoding: 'utf8', timeout: 60_000 });
      if (/unrecognized option|unknown option/i.test(v.stderr)) return tt.skip('this systemd-analyze has no --offline (systemd < 250)');
      const score = /Overall exposure level for tenement\.service: ([\d.]+)/.exec(v.stdout)?.[1];
      assert.ok(score !== undefined, v.stdout + v.stderr);
      // 8.0 EXPOSED before SystemCallArchitectures=, SystemCallFilter=, RestrictAddressFamilies=,
      // CapabilityBoundingSet=~, PrivateMounts= and UMask= (systemd 252); 5.8 with them
      assert.ok(Number(score) <= 6.0, `exposure ${score}`);
      for (const d of ['SystemCallArchitectures=native', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK', 'UMask=0027', 'PrivateMounts=yes']) {
        assert.ok(readFileSync(unit, 'utf8').split('\n').includes(d), d);
      }
    });
    await t.test('caddy validate', (tt) => {
      if (!hasCaddy) return tt.skip('caddy is not installed (apt-get install caddy)');
      const v = spawnSync('caddy', ['validate', '--adapter', 'caddyfile', '--config', caddyfile], {
        encoding: 'utf8', timeout: 60_000, env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
      });
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stdout + v.stderr, /Valid configuration/);
    });

    const u = await ten('uninstall', '--unit-dir', units, '--files-only');
    assert.equal(u.code, 0, u.stderr);
    console.log(u.stdout.trimEnd());
    assert.equal(existsSync(unit), false);
    assert.equal(readFileSync(caddyfile, 'utf8'), theirs, 'the Caddyfile it had moved aside is back');
    assert.equal(existsSync(`${caddyfile}.before-tenement`), false);
    assert.ok(existsSync(join(dir, 'data')), 'the data dir is kept');
    assert.match(u.stdout, new RegExp(`kept the data dir ${dir}/data`));
  });

  test('--user: User=, the data dir given to that user, verify passes', async (t) => {
    if (!hasDaemon) return t.skip('no user daemon on this host');
    const { dir, config } = configCopy();
    const units = tempDir();
    const root = process.getuid?.() === 0;
    const r = await ten('install', '--domain', 'example.com', '--config', config, '--unit-dir', units, '--user', 'daemon', '--port', '80', '--files-only');
    if (!root) {
      assert.equal(r.code, 1, 'chown needs root');
      return t.skip('not root: chown of the data dir to daemon is refused by the kernel');
    }
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(join(units, 'tenement.service'), 'utf8');
    assert.match(text, /^User=daemon$/m);
    assert.match(text, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m, 'port 80 as daemon');
    const owner = statSync(join(dir, 'data')).uid;
    assert.equal(owner, Number(spawnSync('id', ['-u', 'daemon'], { encoding: 'utf8' }).stdout.trim()));
    if (hasVerify) {
      const v = spawnSync('systemd-analyze', ['verify', join(units, 'tenement.service')], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stderr, '');
    }
  });
});

/** The unit's text from `ten install --dry-run --json` with these options. */
async function unitOf(...args: string[]): Promise<{ unit: string; plan: { steps: Array<{ kind: string; argv?: string[]; content?: string }>; notes: string[] } }> {
  const r = await ten('install', '--domain', 'example.com', ...args, '--dry-run', '--json');
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { steps: Array<{ kind: string; argv?: string[]; content?: string }>; notes: string[] };
  return { unit: plan.steps.find((s) => s.kind === 'write')!.content!, plan };
}

describe('what the sandbox lets through', () => {
  test('TLS files (and their symlink targets), plugin files and a Unix api_listen under a home folder: ProtectHome=read-only, the socket folder writable', async (t) => {
    const home = homedir();
    if (!/^\/(home|root)(\/|$)/.test(home)) return t.skip(`the home folder ${home} is not under /home or /root: nothing to put under it`);
    if (!existsSync('/usr/bin/openssl')) return t.skip('needs /usr/bin/openssl to make the certificate (apt install openssl)');
    let mine: string;
    try { mine = mkdtempSync(join(home, '.ten-install-test-')); } catch (err) { return t.skip(`cannot write in ${home}: ${(err as Error).message}`); }
    dirs.push(mine);
    // certbot's layout: live/NAME/cert.pem is a symlink into archive/NAME/ (here: live/ outside the home, archive/ in it)
    mkdirSync(join(mine, 'archive'));
    spawnSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert1.pem', '-days', '2', '-subj', '/CN=example.com'], { cwd: join(mine, 'archive'), stdio: 'ignore' });
    writeFileSync(join(mine, 'plugin.js'), 'export default { name: "audit", create() { return {}; } };\n');
    const { dir } = configCopy();
    mkdirSync(join(dir, 'live'));
    symlinkSync(join(mine, 'archive', 'cert1.pem'), join(dir, 'live', 'cert.pem'));
    const config = join(dir, 'paths.toml');
    writeFileSync(config, [
      '[settings]', 'data_dir = "/var/lib/tenement-install-test"', `api_listen = "unix:${mine}/run/ten.sock"`,
      '[settings.tls]', `cert = "${dir}/live/cert.pem"`, `key = "${mine}/archive/key.pem"`,
      '[service.api]', 'command = "node server.js"', 'workdir = "/srv"',
      '[[plugins.extra]]', `use = "${mine}/plugin.js"`, '',
    ].join('\n'));
    const { unit, plan } = await unitOf('--config', config);
    assert.match(unit, /^ProtectHome=read-only$/m, unit);
    for (const line of [
      `#   the TLS certificate (real path) ${mine}/archive/cert1.pem`,
      `#   the TLS key ${mine}/archive/key.pem`,
      `#   the api_listen socket's folder ${mine}/run`,
      `#   plugin ${mine}/plugin.js (plugins.extra[0]) ${mine}/plugin.js`,
    ]) assert.ok(unit.split('\n').includes(line), `${line} in\n${unit}`);
    assert.match(unit, new RegExp(`^ReadWritePaths=/var/lib/tenement-install-test ${mine}/run$`, 'm'), 'the socket\'s folder is written');
    // the symlink itself lies in /tmp (this test's folder): PrivateTmp=no names it
    assert.ok(unit.split('\n').includes(`#   the TLS certificate ${dir}/live/cert.pem`), unit);
    assert.match(unit, /^PrivateTmp=no$/m);
    assert.ok(plan.steps.some((s) => s.argv?.join(' ') === `install -d -m 0755 ${mine}/run`), 'the socket folder is made: ReadWritePaths= needs it to exist');
    assert.ok(plan.notes.some((n) => n.startsWith('ProtectHome=read-only, not yes: ')), plan.notes.join('\n'));
  });

  test('nothing under a home folder or /tmp: ProtectHome=yes, PrivateTmp=yes', async (t) => {
    const moved = [ROOT, process.execPath].find((p) => MOVED.test(p));
    if (moved) return t.skip(`${moved} is under a home folder or /tmp`);
    const { unit } = await unitOf('--config', FIXTURE);
    assert.match(unit, /^ProtectHome=yes$/m);
    assert.match(unit, /^PrivateTmp=yes$/m);
  });
});

describe('escaping: each setting its own rule, a shell command line for the reader', () => {
  test('a folder with space, %, $ and \' : ReadWritePaths keeps $, WorkingDirectory and ExecStart escape as systemd reads them; the printed command runs in sh', async (t) => {
    const dir = join(tempDir(), "my app %n $HOME 'q'");
    mkdirSync(dir);
    const config = join(dir, 'tenement.toml');
    writeFileSync(config, '[settings]\ndata_dir = "./da ta%i"\n[service.api]\ncommand = "node server.js"\n');
    const data = join(dir, 'da ta%i');
    const sd = (p: string) => p.replace(/%/g, '%%');
    const { unit } = await unitOf('--config', config);
    // systemd.exec(5): a path list quotes, expands specifiers (%%), and has no $ substitution
    assert.ok(unit.split('\n').includes(`ReadWritePaths="${sd(data)}"`), unit);
    // systemd.exec(5) WorkingDirectory=: the rest of the line, specifiers only
    assert.ok(unit.split('\n').includes(`WorkingDirectory=${sd(dir)}`), unit);
    // systemd.service(5) "Command lines": $$ is one $
    assert.ok(unit.includes(` --config "${sd(config).replace(/\$/g, '$$$$')}" `), unit);

    // the human dry run: a command line a shell runs as printed
    const human = await ten('install', '--domain', 'example.com', '--config', config, '--dry-run');
    const line = /^## 1\. run: (.*)$/m.exec(human.stdout)![1]!;
    assert.equal(line, `install -d -m 0711 '${data.replace(/'/g, "'\\''")}'`);
    const sh = spawnSync('sh', ['-c', line], { encoding: 'utf8', env: { ...process.env, HOME: '/nonexistent' } });
    assert.equal(sh.status, 0, sh.stderr);
    assert.ok(statSync(data).isDirectory(), 'the shell made exactly the data dir');
    rmSync(data, { recursive: true });

    // written for real (--files-only), read back by uninstall: the same data dir
    const units = tempDir();
    const r = await ten('install', '--domain', 'example.com', '--config', config, '--unit-dir', units, '--files-only');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`[1/2] install -d -m 0711 '${data.replace(/'/g, "'\\''")}'`), r.stdout);
    assert.ok(statSync(data).isDirectory());
    await t.test('systemd-analyze verify', (tt) => {
      if (!hasVerify) return tt.skip('systemd-analyze is not installed (apt-get install systemd)');
      const v = spawnSync('systemd-analyze', ['verify', join(units, 'tenement.service')], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stderr, '');
    });
    const u = await ten('uninstall', '--unit-dir', units, '--files-only');
    assert.equal(u.code, 0, u.stderr);
    assert.ok(u.stdout.includes(`kept the data dir ${data} (`), u.stdout);
  });
});

describe('refusals', () => {
  test('missing or bad --domain, bad options: an error code, nothing written', async () => {
    const { dir, config } = configCopy();
    const units = tempDir();
    const before = [...snapshot(dir), ...snapshot(units)];
    const base = ['--config', config, '--unit-dir', units, '--files-only'];
    const missing = await tenHere('install', ...base);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error TEN_ERR_CLI_INVALID_ARGUMENT: missing --domain/m);
    for (const [args, why] of [
      [['--domain', 'exa mple.com'], /invalid --domain "exa mple\.com": expected a host name/],
      [['--domain', '*.example.com'], /invalid --domain "\*\.example\.com"/],
      [['--domain', 'https://example.com'], /invalid --domain "https:\/\/example\.com"/],
      [['--domain', 'example.com', '--port', '70000'], /invalid --port "70000"/],
      [['--domain', 'example.com', '--user', 'no-such-user-here'], /invalid --user "no-such-user-here": no such user/],
      [['--domain', 'example.com', '--user', 'nobody'], /invalid --user "nobody": .*useradd --system tenement/],
      [['--domain', 'example.com', '--caddy-dns', 'cloudflare'], /--caddy-dns goes with --caddy/],
      [['--domain', 'example.com', '--caddy', '--port', '443'], /Caddy takes ports 80 and 443/],
    ] as Array<[string[], RegExp]>) {
      const r = await tenHere('install', ...base, ...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error TEN_ERR_CLI_INVALID_ARGUMENT: /m);
      assert.match(r.stderr, why);
    }
    assert.deepEqual([...snapshot(dir), ...snapshot(units)], before);
  });

  test('without systemd running: TEN_ERR_INSTALL_NO_SYSTEMD, nothing written', async (t) => {
    if (systemdRuns) return t.skip('systemd runs on this host: installing for real is not a test\'s business');
    const { dir, config } = configCopy();
    const units = tempDir();
    const r = await ten('install', '--domain', 'example.com', '--config', config, '--unit-dir', units);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error TEN_ERR_INSTALL_NO_SYSTEMD: systemd is not the service manager here \(PID 1 is .*, and \/run\/systemd\/system does not exist\): nothing was changed/m);
    assert.match(r.stderr, /hint: .*--dry-run/);
    assert.deepEqual(readdirSync(units), []);
    assert.equal(existsSync(join(dir, 'data')), false);
  });
});

describe('GET /api/tls/ask: Caddy\'s on-demand TLS question', () => {
  test('200 for the names tenement routes, 404 with a code for the rest; no token needed', async () => {
    const srv = await startTen(`[settings]\ndomain = "example.com"\n${fixtureService('api')}\n[instances]\napi = ["prod"]\n`);
    const ask = async (name: string) => {
      const r = await srv.api('GET', `/api/tls/ask?domain=${encodeURIComponent(name)}`, undefined, null);
      return `${r.status} ${r.status === 200 ? JSON.parse(r.body).routes : JSON.parse(r.body).code}`;
    };
    assert.equal(await ask('example.com'), '200 management');
    assert.equal(await ask('api.example.com'), '200 api');
    assert.equal(await ask('prod.api.example.com'), '200 api:prod');
    assert.equal(await ask('PROD.API.EXAMPLE.COM'), '200 api:prod');
    assert.equal(await ask('v9.api.example.com'), '404 TEN_ERR_ROUTE_UNKNOWN_INSTANCE');
    assert.equal(await ask('nope.example.com'), '404 TEN_ERR_ROUTE_UNKNOWN_SERVICE');
    assert.equal(await ask('a.b.api.example.com'), '404 TEN_ERR_ROUTE_UNKNOWN_SERVICE');
    assert.equal(await ask('example.org'), '404 TEN_ERR_ROUTE_FOREIGN_HOST');
    const none = await srv.api('GET', '/api/tls/ask', undefined, null);
    assert.equal(none.status, 400);
  });
});
