// `ten config` promises to validate "exactly as `ten serve` would": on every broken config of the
// corpus (test/fixtures/broken-configs.ts) both commands exit 1 with the same error line, naming
// the code, the key and tenement.toml:LINE, and print no stack. `ten serve` gets a port held by
// another socket, so a config it wrongly accepted would fail to listen instead of hanging.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BROKEN_CONFIGS } from '../fixtures/broken-configs.ts';
import { rmDir, runCli } from './harness.ts';

const dirs: string[] = [];
const busy = net.createServer();
let busyPort = 0;
before(async () => {
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  busyPort = (busy.address() as net.AddressInfo).port;
});
after(() => {
  busy.close();
  for (const d of dirs) rmDir(d);
});

/** The `error TEN_ERR_…: …` line and the hint line of a failed command. */
const verdict = (stderr: string) => stderr.split('\n').filter((l) => /^error TEN_ERR_|^ {2}hint: /.test(l)).join('\n');

for (const bad of BROKEN_CONFIGS) {
  test(`${bad.what}: ten config and ten serve both refuse it with ${bad.code} at tenement.toml:${bad.line}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ten-verdict-'));
    dirs.push(dir);
    const file = join(dir, 'tenement.toml');
    writeFileSync(file, bad.toml);
    for (const [name, text] of Object.entries(bad.files ?? {})) writeFileSync(join(dir, name), text);
    const env = { TENEMENT_LOG_PRETTY: '0' };
    const [config, serve] = await Promise.all([
      runCli(['config', '--config', file], env, dir),
      runCli(['serve', '--config', file, '--port', String(busyPort)], env, dir),
    ]);
    for (const [cmd, r] of [['config', config], ['serve', serve]] as const) {
      assert.equal(r.code, 1, `ten ${cmd} exit code:\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^error ${bad.code}: `, 'm'), `ten ${cmd}:\n${r.stderr}`);
      assert.match(r.stderr, bad.key, `ten ${cmd}:\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`tenement\\.toml:${bad.line}\\b`), `ten ${cmd}:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m, `ten ${cmd} printed a stack:\n${r.stderr}`);
    }
    assert.equal(verdict(serve.stderr), verdict(config.stderr), 'the same error and hint from both');
  });
}

test('several errors in one file: ten config and ten serve print every one, each with its own line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ten-verdict-'));
  dirs.push(dir);
  const file = join(dir, 'tenement.toml');
  writeFileSync(file, '[settings]\nport = "80"\n\n[service.api]\ncommand = "node app.js"\nweight = 101\nwieght = 5\n\n[plugins.balancr]\nuse = "x"\n');
  for (const args of [['config', '--config', file], ['serve', '--config', file, '--port', String(busyPort)]]) {
    const r = await runCli(args, { TENEMENT_LOG_PRETTY: '0' }, dir);
    assert.equal(r.code, 1, `ten ${args[0]} accepted the config:\n${r.stdout}${r.stderr}`);
    // the first error as a single one reads, then the others, each with its code and line
    assert.match(r.stderr, /^error TEN_ERR_CONFIG_INVALID_TYPE: settings\.port must be a whole number, got "80" \(tenement\.toml:2\)$/m, r.stderr);
    assert.match(r.stderr, /^ {2}TEN_ERR_CONFIG_OUT_OF_RANGE: service\.api\.weight must be between 0 and 100, got 101 \(tenement\.toml:6\)$/m, r.stderr);
    assert.match(r.stderr, /^ {2}TEN_ERR_CONFIG_UNKNOWN_KEY: unknown key service\.api\.wieght \(did you mean "weight"\?\) \(tenement\.toml:7\)$/m, r.stderr);
    assert.match(r.stderr, /^ {2}TEN_ERR_PLUGIN_UNKNOWN_SLOT: unknown plugin slot plugins\.balancr \(did you mean "balancer"\?\) \(tenement\.toml:9\)$/m, r.stderr);
    assert.match(r.stderr, /^ {2}hint: \S/m, r.stderr);
    assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace printed:\n${r.stderr}`);
  }
});

test('problems of several plugins and services are reported together, in file order, by both commands', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ten-verdict-'));
  dirs.push(dir);
  const file = join(dir, 'tenement.toml');
  writeFileSync(file, '[service.api]\ncommand = "node x.js"\nisolation = "vm"\n[service.web]\ncommand = "node x.js"\nisolation = "container"\n'
    + '[plugins.balancer]\nuse = "least-connections"\nfoo = 1\n[plugins.scaler]\nuse = "idle-scaler"\nqueue_size = 0\n[[plugins.extra]]\nuse = "./nope.js"\n');
  for (const args of [['config', '--config', file], ['serve', '--config', file, '--port', String(busyPort)]]) {
    const r = await runCli(args, { TENEMENT_LOG_PRETTY: '0' }, dir);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => /TEN_ERR_/.test(l)).map((l) => `${/TEN_ERR_\w+/.exec(l)![0]} ${/tenement\.toml:(\d+)\)$/.exec(l)?.[1]}`);
    assert.deepEqual(lines, [
      'TEN_ERR_CONFIG_INVALID_VALUE 3', 'TEN_ERR_CONFIG_INVALID_VALUE 6', 'TEN_ERR_PLUGIN_INVALID_OPTIONS 9',
      'TEN_ERR_PLUGIN_INVALID_OPTIONS 12', 'TEN_ERR_PLUGIN_NOT_FOUND 13',
    ], r.stderr);
  }
});
