import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Type } from '@sinclair/typebox';
import { findConfigPath, isDnsLabel, loadConfig, parseConfig, splitCommand } from '../../core/config.ts';
import { type ErrorCode, TenementError } from '../../core/errors.ts';
import { validatePluginOptions } from '../../core/schema.ts';
import { spawnIdTest } from '../../core/config-schema.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FILE = path.join(ROOT, 'tenement.toml');
const MIN = '[service.api]\ncommand = "node server.js"\n';

/** Parses `text` expecting a TenementError with `code`; checks key and line in message and details. */
function expectError(text: string, code: ErrorCode, key: string, line: number | undefined, messageKey = key): TenementError {
  try {
    parseConfig(text, FILE);
  } catch (e) {
    assert.ok(e instanceof TenementError, `expected a TenementError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.details.key, key, e.message);
    assert.equal(e.details.line, line, e.message);
    assert.equal(e.details.file, FILE);
    assert.ok(e.message.includes(messageKey), `message names ${messageKey}: ${e.message}`);
    // the first line of the message is the first error's; others follow on lines of their own
    if (line !== undefined) assert.ok(e.message.split('\n')[0].endsWith(` (tenement.toml:${line})`), e.message);
    return e;
  }
  assert.fail(`expected ${code} for:\n${text}`);
}

const tmpDirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tenement-config-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('the example tenement.toml', () => {
  test('parses with defaults filled and paths resolved', () => {
    const c = loadConfig({ path: FILE, env: {} });
    assert.equal(c.path, FILE);
    assert.equal(c.dir, ROOT);
    assert.deepEqual(c.settings, {
      domain: 'localhost', listen: '127.0.0.1', port: 8080, data_dir: path.join(ROOT, 'tenement-data'),
      health_interval: 5, health_timeout: 2, unhealthy_threshold: 3, healthy_threshold: 1, max_restarts: 5,
      restart_window: 60, backoff_base: 0.5, backoff_max: 30, drain_timeout: 10,
      trusted_proxies: [], forwarded: false, client_header_timeout: 10, client_body_timeout: 30, keepalive_timeout: 5,
      max_pipelined: 16, max_requests: 10000, max_header_size: 16384, max_uri_length: 8192,
      log_max_size: 134217728, log_max_age: 604800, log_ring_size: 1000, log_line_max: 16384,
      auth_fail_limit: 20, auth_fail_window: 60, auth_fail_clients: 10000,
    });
    assert.deepEqual(Object.keys(c.services), ['api', 'web']);
    assert.deepEqual(c.services.api, {
      name: 'api', argv: ['node', 'examples/node-app/server.js'], workdir: ROOT, health: '/health',
      startup_timeout: 30, stop_timeout: 10, request_timeout: 30, response_idle_timeout: 60, max_connections: 128,
      max_queue: 256, queue_timeout: 5, listen: 'port', isolation: 'process', idle_timeout: 0,
      idle_action: 'stop', suspend_timeout: 300, spawn_on_request: false, max_instances: 10, sticky: undefined,
      spawn_expire_after: 86400, spawn_expire_data: 'keep', spawn_rate: 10, spawn_rate_window: 60,
      restart: 'always', weight: 100, env: { INSTANCE: '{name}:{id}' },
    });
    assert.deepEqual(c.services.web.argv, ['python3', '-u', 'examples/python-app/server.py']);
    assert.deepEqual(c.instances, { api: ['prod'], web: ['prod'] });
    assert.deepEqual(c.plugins, { slots: {}, extra: [] }, 'every slot keeps its default');
  });

  test('an empty file is all defaults', () => {
    const c = parseConfig('', '/srv/app/tenement.toml');
    assert.equal(c.settings.listen, '0.0.0.0');
    assert.equal(c.settings.data_dir, '/srv/app/tenement-data');
    assert.deepEqual([c.services, c.instances, c.plugins], [{}, {}, { slots: {}, extra: [] }]);
  });
});

describe('values', () => {
  test('service defaults, args, workdir, env conversion, floats', () => {
    const c = parseConfig(
      '[service.worker]\nargs = ["python3", "-c", "print(1); print(2)"]\nworkdir = "apps/w"\nstop_timeout = 0\nrestart = "never"\nstartup_timeout = 0.25\n' +
        '[service.worker.env]\nA = 1\nB = true\nC = "{port}"\nD = 1.5\n',
      '/srv/tenement.toml',
    );
    const w = c.services.worker;
    assert.deepEqual(w.argv, ['python3', '-c', 'print(1); print(2)']);
    assert.equal(w.workdir, '/srv/apps/w');
    assert.equal(w.health, undefined);
    assert.equal(w.stop_timeout, 0);
    assert.equal(w.startup_timeout, 0.25);
    assert.equal(w.restart, 'never');
    assert.deepEqual(w.env, { A: '1', B: 'true', C: '{port}', D: '1.5' });
  });

  test('scaling keys: defaults, and given values kept', () => {
    const d = parseConfig(MIN, FILE).services.api;
    assert.deepEqual(
      [d.idle_timeout, d.idle_action, d.suspend_timeout, d.spawn_on_request, d.max_instances],
      [0, 'stop', 300, false, 10],
    );
    const s = parseConfig(
      MIN + 'idle_timeout = 60\nidle_action = "suspend"\nsuspend_timeout = 0\nspawn_on_request = true\nmax_instances = 10000\n',
      FILE,
    ).services.api;
    assert.deepEqual(
      [s.idle_timeout, s.idle_action, s.suspend_timeout, s.spawn_on_request, s.max_instances],
      [60, 'suspend', 0, true, 10000],
    );
    assert.equal(parseConfig(MIN + 'idle_action = "stop"\nsuspend_timeout = 0.5\nmax_instances = 1\n', FILE).services.api.max_instances, 1);
  });

  test('spawn_on_request safety keys: defaults; spawn_ids a regex that must compile (key and line) or a list of DNS labels', () => {
    const d = parseConfig(MIN, FILE).services.api;
    assert.deepEqual(
      [d.spawn_expire_after, d.spawn_expire_data, d.spawn_rate, d.spawn_rate_window, d.spawn_ids],
      [86400, 'keep', 10, 60, undefined],
    );
    const s = parseConfig(MIN + 'spawn_expire_after = 0\nspawn_expire_data = "remove"\nspawn_rate = 0\nspawn_rate_window = 0.5\nspawn_ids = "^[a-z]{3,16}$"\n', FILE).services.api;
    assert.deepEqual([s.spawn_expire_after, s.spawn_expire_data, s.spawn_rate, s.spawn_rate_window, s.spawn_ids], [0, 'remove', 0, 0.5, '^[a-z]{3,16}$']);
    assert.deepEqual(parseConfig(MIN + 'spawn_ids = ["alice", "bob"]\n', FILE).services.api.spawn_ids, ['alice', 'bob']);
    const re = expectError(MIN + '\nspawn_ids = "[a-z"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.spawn_ids', 4);
    assert.match(re.message, /^service\.api\.spawn_ids is not a valid regular expression: .*Unterminated character class.* \(tenement\.toml:4\)$/);
    expectError(MIN + 'spawn_ids = "a)(b"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.spawn_ids', 3);
    const list = expectError(MIN + 'spawn_ids = ["ok", "Not_Ok"]\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.spawn_ids[1]', 3, 'service.api.spawn_ids');
    assert.match(list.message, /has an invalid instance id "Not_Ok"/);
    expectError(MIN + 'spawn_ids = 5\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.spawn_ids', 3);
    expectError(MIN + 'spawn_expire_data = "delete"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.spawn_expire_data', 3);
    expectError(MIN + 'spawn_rate = -1\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.spawn_rate', 3);
    expectError(MIN + 'spawn_rate_window = 0\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.spawn_rate_window', 3);
  });

  test('spawnIdTest: a regex matches the whole id; a list admits exactly its ids', () => {
    const re = spawnIdTest('[a-z]+[0-9]*');
    assert.deepEqual(['abc', 'abc12', 'ab-1', '1abc', 'xabc!'].map(re), [true, true, false, false, false]);
    assert.equal(spawnIdTest('a|b')('ab'), false, 'alternatives are anchored as a group');
    const list = spawnIdTest(['alice', 'bob']);
    assert.deepEqual(['alice', 'bob', 'carol', 'alic'].map(list), [true, true, false, false]);
  });

  test('sticky: absent → undefined; "cookie" kept; a header name is lowercased', () => {
    const absent = parseConfig(MIN, FILE).services.api;
    assert.ok('sticky' in absent);
    assert.equal(absent.sticky, undefined);
    assert.equal(parseConfig(MIN + 'sticky = "cookie"\n', FILE).services.api.sticky, 'cookie');
    assert.equal(parseConfig(MIN + 'sticky = "X-User"\n', FILE).services.api.sticky, 'x-user');
  });

  test('domain is lowercased; plugins keep options, use = false and extra order', () => {
    const c = parseConfig(
      '[settings]\ndomain = "Apps.Example.COM"\n\n[plugins.balancer]\nuse = "least-connections"\nsticky = true\n[plugins.metrics]\nuse = false\n' +
        '[[plugins.extra]]\nuse = "./audit.js"\nurl = "http://127.0.0.1:9999/hook"\n[[plugins.extra]]\nuse = "tenement-plugin-x"\n',
      FILE,
    );
    assert.equal(c.settings.domain, 'apps.example.com');
    assert.deepEqual(c.plugins.slots, {
      balancer: { use: 'least-connections', options: { sticky: true }, where: 'plugins.balancer', line: 4, lines: { sticky: 6 }, file: FILE },
      metrics: false,
    });
    assert.deepEqual(c.plugins.extra, [
      { use: './audit.js', options: { url: 'http://127.0.0.1:9999/hook' }, where: 'plugins.extra[0]', line: 9, lines: { url: 11 }, file: FILE },
      { use: 'tenement-plugin-x', options: {}, where: 'plugins.extra[1]', line: 12, lines: {}, file: FILE },
    ]);
  });
});

describe('errors name the key and the line', () => {
  test('out of range', () => {
    const e = expectError(MIN + 'weight = 101\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.weight', 3);
    assert.equal(e.message, 'service.api.weight must be between 0 and 100, got 101 (tenement.toml:3)');
    expectError('[settings]\nport = 70000\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'settings.port', 2);
    expectError('[settings]\n\nhealth_interval = 0\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'settings.health_interval', 3);
    expectError('[settings]\nunhealthy_threshold = 0\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'settings.unhealthy_threshold', 2);
    expectError('[settings]\nmax_restarts = -1\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'settings.max_restarts', 2);
    expectError('[settings]\nbackoff_base = 2\nbackoff_max = 1\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'settings.backoff_max', 3);
    expectError('[settings]\nbackoff_base = 40\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'settings.backoff_base', 2);
    expectError(MIN + 'idle_timeout = -5\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.idle_timeout', 3);
    expectError(MIN + 'suspend_timeout = -1\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.suspend_timeout', 3);
    const m = expectError(MIN + 'max_instances = 0\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.max_instances', 3);
    assert.equal(m.message, 'service.api.max_instances must be between 1 and 10000, got 0 (tenement.toml:3)');
    expectError(MIN + '\nmax_instances = 10001\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.max_instances', 4);
  });

  test('wrong types', () => {
    const e = expectError('[settings]\nport = "80"\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'settings.port', 2);
    assert.equal(e.message, 'settings.port must be a whole number, got "80" (tenement.toml:2)');
    expectError('[settings]\nport = 80.5\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'settings.port', 2);
    expectError(MIN + 'weight = true\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.weight', 3);
    expectError('settings = 5\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'settings', 1);
    expectError('[service.api]\nargs = ["a", 1]\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.args', 2);
    expectError(MIN + '[service.api.env]\nOK = "x"\nBAD = ["x"]\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.env.BAD', 5);
    expectError(MIN + '[instances]\napi = "prod"\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'instances.api', 4);
    expectError('[plugins.balancer]\nuse = 3\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'plugins.balancer.use', 2);
    expectError('[plugins]\nextra = "x"\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'plugins.extra', 2);
    const b = expectError(MIN + 'spawn_on_request = "yes"\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.spawn_on_request', 3);
    assert.equal(b.message, 'service.api.spawn_on_request must be true or false, got "yes" (tenement.toml:3)');
    expectError(MIN + 'spawn_on_request = 1\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.spawn_on_request', 3);
    expectError(MIN + 'max_instances = 2.5\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.max_instances', 3);
    expectError(MIN + 'idle_action = true\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.idle_action', 3);
  });

  test('bad values and formats', () => {
    expectError(MIN + 'restart = "sometimes"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.restart', 3);
    const a = expectError(MIN + 'idle_timeout = 60\nidle_action = "freeze"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.idle_action', 4);
    assert.match(a.message, /"stop"/);
    assert.match(a.message, /"suspend"/);
    expectError(MIN + 'health = "health"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.health', 3);
    expectError('[settings]\nlisten = "localhost"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'settings.listen', 2);
    // api_listen: loopback or a Unix socket only (docs/access.md#api_listen)
    const al = expectError('[settings]\nport = 8080\napi_listen = "0.0.0.0:9091"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'settings.api_listen', 3);
    assert.match(al.message, /not a loopback address/);
    expectError('[settings]\napi_listen = "127.0.0.1"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'settings.api_listen', 2);
    assert.equal(parseConfig('[settings]\napi_listen = "unix:run/ten.sock"\n', FILE).settings.api_listen, `unix:${path.join(path.dirname(FILE), 'run/ten.sock')}`);
    expectError('[settings]\ndomain = "a..b"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'settings.domain', 2);
    expectError('[settings]\ndomain = "under_score.dev"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'settings.domain', 2);
    expectError('[service.api]\nargs = []\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.args', 2);
    const st = expectError(MIN + '\nsticky = "bad header!"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.sticky', 4);
    assert.match(st.message, /"cookie"/);
    assert.match(st.message, /"bad header!"/);
    expectError(MIN + 'sticky = true\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.sticky', 3);
    // "Cookie" would read as a header name but lowercase to cookie mode: ambiguous, refused
    expectError(MIN + 'sticky = "Cookie"\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.sticky', 3);
  });

  test('missing keys point at the table header', () => {
    const e = expectError('# top\n\n[service.api]\nhealth = "/h"\n', 'TEN_ERR_CONFIG_MISSING_KEY', 'service.api.command', 3);
    assert.equal(e.message, 'service.api.command (or service.api.args) is required (tenement.toml:3)');
    expectError(MIN + '\n[plugins.balancer]\nsticky = true\n', 'TEN_ERR_CONFIG_MISSING_KEY', 'plugins.balancer.use', 4);
    expectError('[[plugins.extra]]\nuse = "a"\n[[plugins.extra]]\nurl = "x"\n', 'TEN_ERR_CONFIG_MISSING_KEY', 'plugins.extra[1].use', 3);
    // a service that only [service.web.env] defines (its own header mistyped, found by the config
    // fuzz test's mutations): the error points at that header, not at no line at all
    expectError(`${MIN}\n[service.wbe]\ncommand = "x"\n[service.web.env]\nA = "1"\n`, 'TEN_ERR_CONFIG_MISSING_KEY', 'service.web.command', 6);
  });

  test('unknown keys, with did you mean', () => {
    const e = expectError(MIN + 'wieght = 5\n', 'TEN_ERR_CONFIG_UNKNOWN_KEY', 'service.api.wieght', 3);
    assert.equal(e.message, 'unknown key service.api.wieght (did you mean "weight"?) (tenement.toml:3)');
    const s = expectError('[settings]\nprot = 1\n', 'TEN_ERR_CONFIG_UNKNOWN_KEY', 'settings.prot', 2);
    assert.match(s.message, /did you mean "port"\?/);
    const t = expectError('[servce.api]\ncommand = "x"\n', 'TEN_ERR_CONFIG_UNKNOWN_KEY', 'servce', 1);
    assert.match(t.message, /did you mean "service"\?/);
    const far = expectError('[settings]\ncompletely_unrelated = 1\n', 'TEN_ERR_CONFIG_UNKNOWN_KEY', 'settings.completely_unrelated', 2);
    assert.doesNotMatch(far.message, /did you mean/);
    const slot = expectError('[plugins.balancr]\nuse = "x"\n', 'TEN_ERR_PLUGIN_UNKNOWN_SLOT', 'plugins.balancr', 1);
    assert.equal(slot.message, 'unknown plugin slot plugins.balancr (did you mean "balancer"?) (tenement.toml:1)');
  });

  test('TOML syntax errors carry the line smol-toml reports', () => {
    try {
      parseConfig('[settings]\nport = 1\ndomain = = "x"\n', FILE);
      assert.fail('expected a parse error');
    } catch (e) {
      assert.ok(e instanceof TenementError);
      assert.equal(e.code, 'TEN_ERR_CONFIG_PARSE');
      assert.equal(e.details.line, 3);
      assert.match(e.message, /^invalid TOML in tenement\.toml: .* \(tenement\.toml:3\)$/);
    }
  });

  test('the line finder follows dotted keys, quoted keys, inline tables and multi-line values', () => {
    expectError('service.api.command = "x"\nservice.api.weight = 300\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.weight', 2);
    expectError('[service]\napi = { command = "x" }\nweb = { command = "y", weight = -1 }\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.web.weight', 3);
    expectError('[service.api]\ncommand = "x"\nenv = { A = "1",\n  B = { C = 1 } }\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.env.B', 4);
    expectError('[service."api"]\n"command" = "x"\n\'weight\' = 101\n', 'TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.weight', 3);
    const tricky = '[service.api]\ncommand = """\nnode\nweight = 5\n"""  # [fake]\nargs_note = 1\n';
    expectError(tricky, 'TEN_ERR_CONFIG_UNKNOWN_KEY', 'service.api.args_note', 6);
    expectError(MIN + '[instances]\napi = [\n  "ok",  # ["x"]\n  "Not OK",\n]\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'instances.api[1]', 6, 'instances.api');
    expectError('[service.api]\ncommand = "x"\n[service.api.env]\nA = "1"\n[service.web]\nweight = 3\n', 'TEN_ERR_CONFIG_MISSING_KEY', 'service.web.command', 5);
  });
});

describe('every error is reported, each at its own line', () => {
  const BROKEN = [
    '[settings]',                          // 1
    'port = "80"',                         // 2  wrong type
    'listen = "localhost"',                // 3  not an IP (a rule in code)
    '',                                    // 4
    '[service.api]',                       // 5
    'command = "node a.js | tee log"',     // 6  shell operator
    'weight = 101',                        // 7  out of range
    'wieght = 5',                          // 8  unknown key
    '',                                    // 9
    '[instances]',                         // 10
    'api = ["ok", "Not OK"]',              // 11 bad id
    'web = ["a"]',                         // 12 undefined service
    '[plugins.balancr]',                   // 13 unknown slot
    'use = "x"',                           // 14
  ].join('\n') + '\n';

  test('one TenementError: code, key and line of the first; details.errors and the message list all, in file order', () => {
    const e = expectError(BROKEN, 'TEN_ERR_CONFIG_INVALID_TYPE', 'settings.port', 2);
    assert.deepEqual(
      (e.details.errors as Array<{ code: string; key: string; line: number }>).map((x) => [x.code, x.key, x.line]),
      [
        ['TEN_ERR_CONFIG_INVALID_TYPE', 'settings.port', 2],
        ['TEN_ERR_CONFIG_INVALID_VALUE', 'settings.listen', 3],
        ['TEN_ERR_CONFIG_COMMAND', 'service.api.command', 6],
        ['TEN_ERR_CONFIG_OUT_OF_RANGE', 'service.api.weight', 7],
        ['TEN_ERR_CONFIG_UNKNOWN_KEY', 'service.api.wieght', 8],
        ['TEN_ERR_CONFIG_INVALID_VALUE', 'instances.api[1]', 11],
        ['TEN_ERR_CONFIG_INVALID_VALUE', 'instances.web', 12],
        ['TEN_ERR_PLUGIN_UNKNOWN_SLOT', 'plugins.balancr', 13],
      ],
    );
    const lines = e.message.split('\n');
    assert.equal(lines.length, 8, e.message);
    assert.equal(lines[0], 'settings.port must be a whole number, got "80" (tenement.toml:2)');
    assert.equal(lines[4], '  TEN_ERR_CONFIG_UNKNOWN_KEY: unknown key service.api.wieght (did you mean "weight"?) (tenement.toml:8)');
    assert.equal(lines[7], '  TEN_ERR_PLUGIN_UNKNOWN_SLOT: unknown plugin slot plugins.balancr (did you mean "balancer"?) (tenement.toml:13)');
    for (const [i, x] of (e.details.errors as Array<{ message: string; line: number }>).entries()) {
      assert.ok(x.message.endsWith(` (tenement.toml:${x.line})`), x.message);
      assert.ok(lines[i].endsWith(x.message), `${lines[i]} / ${x.message}`);
    }
  });

  test('a value the schema refused is not judged again by the rules (one error per key)', () => {
    const e = expectError('[settings]\nlisten = 5\ntrusted_proxies = "x"\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'settings.listen', 2);
    assert.deepEqual((e.details.errors as Array<{ key: string }>).map((x) => x.key), ['settings.listen', 'settings.trusted_proxies']);
    const t = expectError('settings = 5\n[service.api]\nargs = ["a", 1]\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'settings', 1);
    assert.equal((t.details.errors as unknown[]).length, 2, t.message);
    assert.match(t.message, /service\.api\.args must be an array of strings, got 1 at \[1\] \(tenement\.toml:3\)$/);
  });

  test('a TOML date is refused like any other wrong type', () => {
    expectError('[settings]\ndata_dir = 1979-05-27\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'settings.data_dir', 2);
    assert.match(expectError(MIN + 'weight = 07:32:00\n', 'TEN_ERR_CONFIG_INVALID_TYPE', 'service.api.weight', 3).message, /got a date/);
  });
});

describe('plugin options (validatePluginOptions)', () => {
  const schema = Type.Object({
    max_inflight: Type.Optional(Type.Integer({ minimum: 1 })),
    mode: Type.Optional(Type.Union([Type.Literal('fast'), Type.Literal('fair')])),
    retries: Type.Integer({ minimum: 0, default: 3 }),
  });
  const entryOf = (toml: string) => {
    const entry = parseConfig(MIN + toml, FILE).plugins.slots.balancer;
    assert.ok(entry);
    return entry;
  };

  test('a TypeBox default fills in; the config itself is left as written', () => {
    const entry = entryOf('[plugins.balancer]\nuse = "./my-balancer.js"\nmax_inflight = 4\n');
    assert.deepEqual(validatePluginOptions('my-balancer', schema, entry), { max_inflight: 4, retries: 3 });
    assert.deepEqual(entry.options, { max_inflight: 4 });
  });

  test('every error, each naming its key and its own line', () => {
    const entry = entryOf('\n[plugins.balancer]\nuse = "./my-balancer.js"\nmax_inflight = 0\nmode = "slow"\n\nretries = "3"\nfoo = 1\n');
    assert.throws(() => validatePluginOptions('my-balancer', schema, entry), (e: unknown) => {
      assert.ok(e instanceof TenementError);
      assert.equal(e.code, 'TEN_ERR_PLUGIN_INVALID_OPTIONS');
      assert.deepEqual([e.details.key, e.details.line, e.details.file], ['plugins.balancer.max_inflight', 6, FILE]);
      assert.deepEqual((e.details.errors as Array<{ key: string; line: number }>).map((x) => [x.key, x.line]), [
        ['plugins.balancer.max_inflight', 6], ['plugins.balancer.mode', 7], ['plugins.balancer.retries', 9], ['plugins.balancer.foo', 10],
      ]);
      const lines = e.message.split('\n');
      assert.equal(lines[0], 'invalid options for plugin my-balancer: plugins.balancer.max_inflight must be >= 1 (tenement.toml:6)');
      assert.match(lines[2], /plugins\.balancer\.retries must be integer \(tenement\.toml:9\)$/);
      assert.match(lines[3], /plugins\.balancer\.foo is not an option \(tenement\.toml:10\)$/);
      return true;
    });
  });

  test('a plugin without a schema takes no options; a missing required option points at the table', () => {
    const entry = entryOf('[plugins.balancer]\nuse = "./my-balancer.js"\na = 1\nb = 2\n');
    assert.throws(() => validatePluginOptions('my-balancer', undefined, entry), (e: TenementError) => {
      assert.deepEqual((e.details.errors as Array<{ key: string; line: number }>).map((x) => [x.key, x.line]), [['plugins.balancer.a', 5], ['plugins.balancer.b', 6]]);
      assert.match(e.message, /^invalid options for plugin my-balancer: plugins\.balancer\.a is not an option: this plugin takes no options \(tenement\.toml:5\)\n/);
      return true;
    });
    const needs = Type.Object({ url: Type.String() });
    assert.throws(() => validatePluginOptions('audit', needs, entryOf('[plugins.balancer]\nuse = "./audit.js"\n')), {
      code: 'TEN_ERR_PLUGIN_INVALID_OPTIONS',
      message: 'invalid options for plugin audit: plugins.balancer.url is required (tenement.toml:3)',
    });
  });
});

describe('service names and instance ids are DNS labels', () => {
  for (const bad of ['A B', '../x', 'x'.repeat(64), '-a', 'Api']) {
    test(`service name ${JSON.stringify(bad)}`, () => {
      const key = `service.${/^[A-Za-z0-9_-]+$/.test(bad) ? bad : JSON.stringify(bad)}`;
      const e = expectError(`[service.${JSON.stringify(bad)}]\ncommand = "x"\n`, 'TEN_ERR_CONFIG_INVALID_VALUE', key, 1);
      assert.match(e.message, /must be a DNS label/);
    });
    test(`instance id ${JSON.stringify(bad)}`, () => {
      const e = expectError(MIN + `[instances]\napi = ["ok", ${JSON.stringify(bad)}]\n`, 'TEN_ERR_CONFIG_INVALID_VALUE', 'instances.api[1]', 4, 'instances.api');
      assert.match(e.message, /must be a DNS label/);
    });
  }

  test('63 characters is fine; duplicates and unknown services are not', () => {
    const id = 'a'.repeat(63);
    assert.deepEqual(parseConfig(MIN + `[instances]\napi = ["${id}"]\n`, FILE).instances, { api: [id] });
    expectError(MIN + '[instances]\napi = ["a", "b", "a"]\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'instances.api[2]', 4, 'instances.api');
    const e = expectError(MIN + '\n[instances]\napi = ["a"]\nweb = ["a"]\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'instances.web', 6);
    assert.match(e.message, /not defined/);
  });

  test('property: isDnsLabel accepts exactly the DNS label rule', () => {
    const rule = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(rule), fc.string({ unit: 'binary' })), (s) => {
        if (isDnsLabel(s)) assert.ok(rule.test(s) && s.length <= 63);
      }),
    );
    const unit = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-');
    fc.assert(
      fc.property(fc.string({ unit, minLength: 0, maxLength: 70 }), (id) => {
        const valid = id.length >= 1 && id.length <= 63 && !id.startsWith('-') && !id.endsWith('-');
        assert.equal(isDnsLabel(id), valid);
        const text = MIN + `[instances]\napi = ["${id}"]\n`;
        if (valid) assert.deepEqual(parseConfig(text, FILE).instances.api, [id]);
        else assert.throws(() => parseConfig(text, FILE), { code: 'TEN_ERR_CONFIG_INVALID_VALUE' });
      }),
      { numRuns: 300 },
    );
  });
});

describe('command splitting', () => {
  test('quotes, escapes and $VAR kept literal', () => {
    assert.deepEqual(splitCommand(`node "my app.js" 'a b' c\\ d --x="1 2" $HOME '$PATH' "$USER/x"`, 'service.api.command'), [
      'node', 'my app.js', 'a b', 'c d', '--x=1 2', '$HOME', '$PATH', '$USER/x',
    ]);
    const c = parseConfig('[service.api]\ncommand = "python3 -m http.server $PORT"\n', FILE);
    assert.deepEqual(c.services.api.argv, ['python3', '-m', 'http.server', '$PORT']);
  });

  for (const [cmd, op] of [['a | b', '|'], ['a; b', ';'], ['a > f', '>'], ['a && b', '&&'], ['a < f', '<'], ['a &', '&']] as const) {
    test(`rejects ${JSON.stringify(cmd)}`, () => {
      assert.throws(() => splitCommand(cmd, 'service.api.command'), (e: unknown) => {
        assert.ok(e instanceof TenementError);
        assert.equal(e.code, 'TEN_ERR_CONFIG_COMMAND');
        assert.ok(e.message.startsWith('service.api.command: '), e.message);
        assert.ok(e.message.includes(`"${op}"`), e.message);
        return true;
      });
    });
  }

  test('rejects quoting a shell would refuse: an unclosed quote, a trailing backslash (found by the new-user trial)', () => {
    assert.throws(() => splitCommand(`node 'x`, 'c'), { code: 'TEN_ERR_CONFIG_COMMAND', message: 'c: the single quote at character 6 is never closed' });
    assert.throws(() => splitCommand(`node "x`, 'c'), { code: 'TEN_ERR_CONFIG_COMMAND', message: 'c: the double quote at character 6 is never closed' });
    assert.throws(() => splitCommand('node x\\', 'c'), { code: 'TEN_ERR_CONFIG_COMMAND', message: 'c: it ends with a backslash that quotes nothing' });
    // a quote of the other kind, or a backslash inside single quotes, is only a character
    assert.deepEqual(splitCommand(`node "it's" 'say "hi"' 'a\\'`, 'c'), ['node', "it's", 'say "hi"', 'a\\']);
  });

  test('rejects globs, comments and empty commands; in a file the error has the line', () => {
    assert.throws(() => splitCommand('ls *.js', 'c'), /glob "\*\.js"/);
    assert.throws(() => splitCommand('run # note', 'c'), /comment/);
    assert.throws(() => splitCommand('   ', 'c'), { code: 'TEN_ERR_CONFIG_COMMAND', message: /empty/ });
    const e = expectError('\n[service.api]\nhealth = "/"\ncommand = "node a.js | tee log"\n', 'TEN_ERR_CONFIG_COMMAND', 'service.api.command', 4);
    assert.match(e.message, /"\|"/);
  });

  test('command and args together is an error', () => {
    const e = expectError('[service.api]\ncommand = "a"\nargs = ["a"]\n', 'TEN_ERR_CONFIG_INVALID_VALUE', 'service.api.args', 3, 'service.api');
    assert.match(e.message, /both command and args/);
  });
});

describe('finding and loading the file', () => {
  test('precedence: explicit path > TENEMENT_CONFIG > <cwd>/tenement.toml', () => {
    const dir = tmp();
    const local = path.join(dir, 'tenement.toml');
    const fromEnv = path.join(dir, 'env.toml');
    const explicit = path.join(dir, 'explicit.toml');
    assert.equal(findConfigPath({ cwd: dir, env: {} }), undefined);
    for (const f of [local, fromEnv, explicit]) fs.writeFileSync(f, MIN);
    assert.equal(findConfigPath({ cwd: dir, env: {} }), local);
    assert.equal(findConfigPath({ cwd: dir, env: { TENEMENT_CONFIG: 'env.toml' } }), fromEnv);
    assert.equal(findConfigPath({ cwd: dir, env: { TENEMENT_CONFIG: fromEnv }, path: 'explicit.toml' }), explicit);
    assert.throws(() => findConfigPath({ cwd: dir, env: {}, path: 'missing.toml' }), { code: 'TEN_ERR_CONFIG_NOT_FOUND' });
    assert.throws(() => findConfigPath({ cwd: dir, env: { TENEMENT_CONFIG: path.join(dir, 'nope.toml') } }), { code: 'TEN_ERR_CONFIG_NOT_FOUND' });
  });

  test('loadConfig: not found, relative paths, overrides', () => {
    const dir = tmp();
    assert.throws(() => loadConfig({ cwd: dir, env: {} }), { code: 'TEN_ERR_CONFIG_NOT_FOUND' });
    fs.writeFileSync(path.join(dir, 'tenement.toml'), '[settings]\nport = 9000\ndata_dir = "data"\n' + MIN);
    const c = loadConfig({ cwd: dir, env: {} });
    assert.equal(c.settings.port, 9000);
    assert.equal(c.settings.data_dir, path.join(dir, 'data'));
    assert.equal(c.services.api.workdir, dir);
    const o = loadConfig({ cwd: dir, env: {}, overrides: { port: 0, domain: 'Example.COM' } });
    assert.equal(o.settings.port, 0);
    assert.equal(o.settings.domain, 'example.com');
    assert.throws(() => loadConfig({ cwd: dir, env: {}, overrides: { port: 70000 } }), {
      code: 'TEN_ERR_CONFIG_OUT_OF_RANGE',
      message: 'settings.port must be between 0 and 65535, got 70000 (override)',
    });
    assert.throws(() => loadConfig({ cwd: dir, env: {}, overrides: { domain: 'not a host' } }), { code: 'TEN_ERR_CONFIG_INVALID_VALUE' });
  });
});
