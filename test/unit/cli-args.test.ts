// Argument parsing of the `ten` CLI: instance references, weights, negative numbers, and the real
// CLI run as a child process (bad input must fail before any request is sent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TenementError } from '../../core/errors.ts';
import { closedPort, runTen as ten } from './cli-process.ts';
import { parseInstanceRef, parseWeight, validateName } from '../../cli/instance-ref.ts';
import { normalizeArgv as normalize, valueOptions } from '../../cli/argv.ts';
import { commandModels } from '../../cli/help.ts';
import { buildCli } from '../../cli/index.ts';
import { resolveServer } from '../../cli/client.ts';

function throwsCode(fn: () => unknown, code: string) {
  assert.throws(fn, (e: unknown) => e instanceof TenementError && e.code === code);
}

test('parseInstanceRef: service:id and --id forms', () => {
  assert.deepEqual(parseInstanceRef('api:v1'), { service: 'api', id: 'v1', key: 'api:v1' });
  assert.deepEqual(parseInstanceRef('api', 'green'), { service: 'api', id: 'green', key: 'api:green' });
  assert.deepEqual(parseInstanceRef('api:green', 'green'), { service: 'api', id: 'green', key: 'api:green' });
  assert.equal(parseInstanceRef('my-svc:prod-1').key, 'my-svc:prod-1');
  throwsCode(() => parseInstanceRef('api'), 'TEN_ERR_CLI_INVALID_ARGUMENT');
  throwsCode(() => parseInstanceRef('api:v1', 'v2'), 'TEN_ERR_CLI_INVALID_ARGUMENT');
});

test('parseInstanceRef: names must be DNS labels', () => {
  for (const bad of ['../x', 'A B', 'Api:v1', 'a'.repeat(64), ':v1', '-api:v1', 'api-:v1', 'api:', 'api:v1:x', 'api:v_1', 'api:../x', '']) {
    throwsCode(() => parseInstanceRef(bad, bad.includes(':') ? undefined : 'v1'), 'TEN_ERR_API_INVALID_NAME');
  }
  throwsCode(() => parseInstanceRef('api', 'A B'), 'TEN_ERR_API_INVALID_NAME');
  assert.equal(validateName('service', 'a'.repeat(63)), 'a'.repeat(63));
  assert.equal(validateName('instance id', '0'), '0');
});

test('parseWeight: whole numbers 0-100 only', () => {
  assert.equal(parseWeight('0'), 0);
  assert.equal(parseWeight('100'), 100);
  assert.equal(parseWeight('35'), 35);
  for (const bad of ['101', '-1', 'abc', '1.5', '', ' 5', '+5', '1e2', '0x10', '1000', 'NaN']) {
    throwsCode(() => parseWeight(bad), 'TEN_ERR_API_INVALID_WEIGHT');
  }
});

const values = valueOptions(commandModels(buildCli()));
const normalizeArgv = (argv: string[]) => normalize(argv, values);

test('normalizeArgv: a --token value may start with "-"', () => {
  assert.deepEqual(normalizeArgv(['ps', '--token', '-abc', '--json']), ['ps', '--token=-abc', '--json']);
  assert.deepEqual(normalizeArgv(['ps', '--token', 'abc']), ['ps', '--token', 'abc']);
});

test('normalizeArgv: negative numbers reach the validators', () => {
  assert.deepEqual(normalizeArgv(['weight', 'api:v1', '80']), ['weight', 'api:v1', '80']);
  assert.deepEqual(normalizeArgv(['weight', 'api:v1', '-1']), ['weight', 'api:v1', '--', '-1']);
  assert.deepEqual(normalizeArgv(['weight', 'api:v1', '-1', '--server', 'h:1', '--json']), ['weight', 'api:v1', '--server', 'h:1', '--json', '--', '-1']);
  assert.deepEqual(normalizeArgv(['spawn', 'api:v1', '--weight', '-5']), ['spawn', 'api:v1', '--weight=-5']);
  assert.deepEqual(normalizeArgv(['weight', 'api:v1', '--', '-1']), ['weight', 'api:v1', '--', '-1']);
});

test('normalizeArgv: every value option of the command model, short names too (was a list kept by hand)', () => {
  assert.deepEqual(normalizeArgv(['logs', 'api', '-n', '-5']), ['logs', 'api', '-n=-5']);
  assert.deepEqual(normalizeArgv(['logs', 'api', '--lines', '-5']), ['logs', 'api', '--lines=-5']);
  assert.deepEqual(normalizeArgv(['ps', '--connect-timeout', '-1']), ['ps', '--connect-timeout=-1']);
  assert.deepEqual(normalizeArgv(['export', 'kubernetes', '--container-port', '-80']), ['export', 'kubernetes', '--container-port=-80']);
  for (const name of ['--weight', '--lines', '-n', '--request-timeout', '--since', '--expires', '--max-p99']) assert.ok(values.has(name), name);
  for (const flag of ['--json', '--follow', '-f', '--wait']) assert.ok(!values.has(flag), flag);
  // bundled short options, one taking a value (clipanion read `-fn 3` as -f -n=true)
  assert.deepEqual(normalizeArgv(['logs', '-fn', '3']), ['logs', '-f', '-n', '3']);
  assert.deepEqual(normalizeArgv(['ps', '--token', '-abc']), ['ps', '--token=-abc']);
});

test('resolveServer: flag, env, default; scheme optional', () => {
  assert.equal(resolveServer(undefined, {}), 'http://localhost:8080');
  assert.equal(resolveServer(undefined, { TENEMENT_SERVER: 'http://10.0.0.2:9000/' }), 'http://10.0.0.2:9000');
  assert.equal(resolveServer('127.0.0.1:8081', { TENEMENT_SERVER: 'http://x:1' }), 'http://127.0.0.1:8081');
  throwsCode(() => resolveServer('ftp://x', {}), 'TEN_ERR_CLI_INVALID_ARGUMENT');
});

// ---------------------------------------------------------------- the real CLI, as a child process


// Nothing listens here: if validation did not come first, these would fail with SERVER_UNREACHABLE.
const NOWHERE = { TENEMENT_SERVER: 'http://127.0.0.1:9', TENEMENT_TOKEN: 't' };

for (const [args, code] of [
  [['weight', 'api:v1', '101'], 'TEN_ERR_API_INVALID_WEIGHT'],
  [['weight', 'api:v1', '-1'], 'TEN_ERR_API_INVALID_WEIGHT'],
  [['weight', 'api:v1', 'abc'], 'TEN_ERR_API_INVALID_WEIGHT'],
  [['weight', 'api:v1', '1.5'], 'TEN_ERR_API_INVALID_WEIGHT'],
  [['spawn', 'api:v1', '--weight', '-1'], 'TEN_ERR_API_INVALID_WEIGHT'],
  [['spawn', 'A B'], 'TEN_ERR_API_INVALID_NAME'],
  [['spawn', '../x'], 'TEN_ERR_API_INVALID_NAME'],
  [['spawn', 'api', '--id', 'x'.repeat(64)], 'TEN_ERR_API_INVALID_NAME'],
  [['stop', 'api:../x'], 'TEN_ERR_API_INVALID_NAME'],
  [['ps', 'A B'], 'TEN_ERR_API_INVALID_NAME'],
  [['spawn', 'api'], 'TEN_ERR_CLI_INVALID_ARGUMENT'],
  [['nosuchcommand'], 'TEN_ERR_CLI_UNKNOWN_COMMAND'],
  [['weight', 'api:v1'], 'TEN_ERR_CLI_INVALID_ARGUMENT'],
] as const) {
  test(`ten ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')} fails with ${code}`, async () => {
    const r = await ten([...args], { env: NOWHERE });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`^error ${code}: .+\\n  hint: .+`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --debug');
    assert.equal(r.stdout, '');
  });
}

test('ten ps against a closed port: TEN_ERR_CLI_SERVER_UNREACHABLE', async () => {
  const port = await closedPort();
  const withToken = await ten(['ps', '--server', `http://127.0.0.1:${port}`], { env: { TENEMENT_TOKEN: 't' } });
  assert.equal(withToken.code, 1);
  assert.match(withToken.stderr, /^error TEN_ERR_CLI_SERVER_UNREACHABLE: cannot reach ten serve at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\n  hint: /);
  // No token anywhere (empty folder, no env): still says the server is down, not "no token".
  const empty = mkdtempSync(join(tmpdir(), 'ten-cli-'));
  const noToken = await ten(['ps'], { env: { TENEMENT_SERVER: `127.0.0.1:${port}` }, cwd: empty });
  rmSync(empty, { recursive: true, force: true });
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /^error TEN_ERR_CLI_SERVER_UNREACHABLE: /);
  const debug = await ten(['ps', '--debug', '--server', `127.0.0.1:${port}`], { env: { TENEMENT_TOKEN: 't' } });
  assert.match(debug.stderr, /\n\s+at /, '--debug prints the stack');
});

test('ten version and ten --version print the package version', async () => {
  const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
  for (const args of [['version'], ['--version']]) {
    const r = await ten(args);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `ten ${version}\n`);
  }
});
