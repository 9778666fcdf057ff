// Hostile input, class 1 (issue 11): tenement.toml files that are random bytes, truncations and
// mutations of a valid file, or a valid file with one value of the wrong type, through the loader
// `ten config` and `ten serve` use (loadConfig, then preparePlugins for plugin options). Each file
// is either accepted or refused with a TenementError (TEN_ERR_CONFIG_* / TEN_ERR_PLUGIN_*) whose
// message ends with `(tenement.toml:LINE)`: never a TypeError, a raw parser exception or a hang.
// A type-confused value is refused naming its key and the line it is on. Each property has a fixed
// number of runs and a time limit; the counts are printed (t.diagnostic) for docs/security.md.
// The seed is fixed (FUZZ_SEED=n replays n, FUZZ_SEED=random draws one; fast-check prints the
// seed and the shrunk case of a failure).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../core/config.ts';
import { ConfigFileSchema, formatKey, SettingsSchema, type TomlPath } from '../../core/config-schema.ts';
import { TenementError } from '../../core/errors.ts';
import { preparePlugins } from '../../core/loader.ts';
import { BUILTINS } from '../../plugins/index.ts';
import { BUDGET_MS, check, Tally } from '../fuzz.ts';


const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ten-fuzz-config-'));
const FILE = path.join(dir, 'tenement.toml');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A valid file with every table kind: settings, two services with env, instances, plugin slots with options. */
const VALID = `# fuzz base
[settings]
domain = "localhost"
listen = "127.0.0.1"
port = 8080
data_dir = "./data"
health_interval = 5
trusted_proxies = ["10.0.0.0/8"]

[service.api]
command = "node server.js --port 1"
health = "/health"
weight = 100
restart = "always"
idle_timeout = 30

[service.api.env]
INSTANCE = "{name}:{id}"

[service.web]
args = ["python3", "-u", "server.py"]
spawn_on_request = true
max_instances = 5

[instances]
api = ["prod", "v2"]
web = ["prod"]

[plugins.scaler]
use = "idle-scaler"
check_interval = 1

[plugins.workflows]
use = "deploy-workflows"

[plugins.balancer]
use = "least-connections"

[plugins.metrics]
use = "prometheus-exporter"
`;

type Verdict = { ok: true } | { ok: false; err: TenementError };

/** `ten config`'s verdict on `text` written as tenement.toml: loadConfig, then the plugins
 *  (only for files that still name built-in plugins: a mutated `use` could name any npm package,
 *  whose import is not this test's business). Anything but a TenementError fails the test. */
async function verdict(text: string | Uint8Array, plugins: boolean): Promise<Verdict> {
  fs.writeFileSync(FILE, text);
  try {
    const config = loadConfig({ path: FILE, cwd: dir, env: {} });
    const uses = [...Object.values(config.plugins.slots), ...config.plugins.extra].filter((p) => p !== false).map((p) => p.use);
    if (plugins && uses.every((u) => Object.hasOwn(BUILTINS.plugins, u))) await preparePlugins(config, BUILTINS);
    return { ok: true };
  } catch (err) {
    if (!(err instanceof TenementError)) {
      assert.fail(`not a TenementError: ${(err as Error)?.stack ?? String(err)}\nfor:\n${Buffer.from(text).toString().slice(0, 2000)}`);
    }
    return { ok: false, err };
  }
}

/** Every line of a refusal names the file and a line in it that exists: `(tenement.toml:N)`, or
 *  `(plugins.balancer, tenement.toml:N)` for the plugin loader's. */
function assertLocated(err: TenementError, text: string | Uint8Array): void {
  const lines = Buffer.from(text).toString().split('\n').length;
  assert.match(err.code, /^TEN_ERR_(CONFIG|PLUGIN)_/, err.message);
  const items = (err.details.errors as Array<{ message: string; line?: number }> | undefined) ?? [{ message: err.message, line: err.details.line as number | undefined }];
  for (const item of items) {
    const m = /\((?:[^()]*, )?tenement\.toml:(\d+)\)$/.exec(item.message.split('\n')[0]);
    assert.ok(m, `no line in "${item.message}" for:\n${Buffer.from(text).toString().slice(0, 2000)}`);
    const n = Number(m[1]);
    assert.ok(n >= 1 && n <= lines, `line ${n} of a ${lines}-line file: ${item.message}`);
  }
  assert.doesNotMatch(err.message, /^\s+at /m, 'no stack frames in the message');
}


// ------------------------------------------------------------------------------- type confusion

/** TOML value texts of every kind: what a key of another type gets. */
const ODD_VALUES = [
  '"8080"', '""', '"-1"', '"NaN"', '"\\u0000"', '"é"', '"😀"', '"\\u202e"', `"${'x'.repeat(5000)}"`, '"../x"', "'{name}'", '"""\nmulti\n"""',
  '-1', '0', '-0', '1.5', '-1.5', '1e308', '5e-324', 'inf', '-inf', 'nan', '+nan',
  '9223372036854775807', '-9223372036854775808', '0x7fffffff', '0o777', '0b1', '1_000', '3.0', '65536', '99999999',
  'true', 'false', '1979-05-27T07:32:00Z', '07:32:00', '1979-05-27', '1979-05-27T07:32:00',
  '[]', '[1, 2]', '["a"]', '[[1]]', '[{ a = 1 }]', '["a", 1]', '{}', '{ a = 1 }', '{ use = "x" }',
];
/** A TOML value: one of the odd ones, or a random string, integer, float, array or inline table. */
const tomlValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_VALUES) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Number.isInteger(d) ? `${d}.0` : String(d)).replace('e+', 'e')) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom('1', '"a"', 'true', '{}', '[]'), { maxLength: 3 }).map((a) => `[${a.join(', ')}]`) },
);

const settingsKeys = Object.keys(SettingsSchema.properties);
const serviceSchema = Object.values((ConfigFileSchema.properties.service as unknown as { patternProperties: Record<string, { properties: object }> }).patternProperties)[0];
const serviceKeys = Object.keys(serviceSchema.properties);
/** Options of the built-in plugins that take some, by slot (the slot each fills by default). */
const pluginOptions: Array<[string, string, string[]]> = Object.entries(BUILTINS.defaults).flatMap(([slot, name]) => {
  const props = (BUILTINS.plugins[name!].options as { properties?: object } | undefined)?.properties;
  return props ? [[slot, name!, Object.keys(props)] as [string, string, string[]]] : [];
});

/** A key of the file (from the schemas, so new keys are covered) or an unknown one with an odd name. */
const keyArb: fc.Arbitrary<{ path: TomlPath; kind: string }> = fc.oneof(
  fc.constantFrom(...settingsKeys).map((k) => ({ path: ['settings', k], kind: 'settings' })),
  fc.constantFrom(...serviceKeys).map((k) => ({ path: ['service', 'api', k], kind: 'service' })),
  fc.constantFrom(...pluginOptions).chain(([slot, name, keys]) => fc.constantFrom('use', ...keys).map((k) => ({ path: ['plugins', slot, k], kind: k === 'use' ? `plugins.use:${name}` : 'plugin options' }))),
  fc.constant({ path: ['instances', 'api'], kind: 'instances' }),
  fc.constant({ path: ['service', 'api', 'env', 'INSTANCE'], kind: 'env' }),
  fc.constantFrom('settings', 'service', 'instances', 'plugins').map((k) => ({ path: [k], kind: 'table' })),
  fc.tuple(fc.constantFrom<TomlPath>(['settings'], ['service', 'api'], ['plugins', 'scaler'], []), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }))
    .filter(([, k]) => !['settings', 'service', 'instances', 'plugins', 'use', ...settingsKeys, ...serviceKeys].includes(k))
    .map(([base, k]) => ({ path: [...base, k], kind: 'unknown key' })),
);

/** VALID with `p` set to the TOML value `value`: the key's line replaced, or added at the top of its
 *  table (a table VALID lacks is added); sections of a table it replaces ([service.api.env] for
 *  `env = 5`, every [settings...] for `settings = 5`) are dropped. Returns the text and the key's line. */
function withValue(p: TomlPath, value: string): { text: string; line: number } {
  const key = (k: string | number) => (/^[A-Za-z0-9_-]+$/.test(String(k)) ? String(k) : JSON.stringify(k));
  const dotted = p.map(key).join('.');
  const lines: string[] = [];
  let skipping = false;
  for (const l of VALID.split('\n')) {
    if (l.startsWith('[')) skipping = ['[', '[['].some((b) => l.startsWith(`${b}${dotted}.`) || l.startsWith(`${b}${dotted}]`));
    if (!skipping) lines.push(l);
  }
  const name = key(p.at(-1)!);
  if (p.length === 1) return { text: [`${name} = ${value}`, ...lines].join('\n'), line: 1 };
  const header = `[${p.slice(0, -1).map(key).join('.')}]`;
  const at = lines.indexOf(header);
  if (at < 0) return { text: [...lines, header, `${name} = ${value}`].join('\n'), line: lines.length + 2 };
  const own = lines.findIndex((l, i) => i > at && l.startsWith(`${name} = `) && !lines.slice(at + 1, i).some((x) => x.startsWith('[')));
  if (own >= 0) lines[own] = `${name} = ${value}`;
  else lines.splice(at + 1, 0, `${name} = ${value}`);
  return { text: lines.join('\n'), line: (own >= 0 ? own : at + 1) + 1 };
}

// ------------------------------------------------------------------------------- the properties

describe('hostile tenement.toml files (fuzz)', () => {
  test('the base file is valid (so every refusal below is about what was changed)', async () => {
    assert.deepEqual(await verdict(VALID, true), { ok: true });
  });

  test('random bytes: refused with a code and a line, or accepted', { timeout: 30_000 }, async (t) => {
    const tally = new Tally();
    await check(fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.string({ unit: 'binary', maxLength: 300 }).map((s) => Buffer.from(s))), async (bytes) => {
      const v = await verdict(bytes, false);
      if (!v.ok) assertLocated(v.err, bytes);
      tally.add(v.ok ? 'accepted' : v.err.code);
    }), 1000);
    tally.print(t, 'random bytes');
  });

  test('every truncation of the valid file: refused with a code and a line, or accepted', { timeout: 30_000 }, async (t) => {
    const tally = new Tally();
    const deadline = Date.now() + BUDGET_MS;
    for (let n = 0; n < VALID.length && Date.now() < deadline; n++) {
      const text = VALID.slice(0, n);
      const v = await verdict(text, true);
      if (!v.ok) assertLocated(v.err, text);
      tally.add(v.ok ? 'accepted' : v.err.code);
    }
    tally.print(t, `truncations (of ${VALID.length})`);
  });

  test('mutations of the valid file (TOML punctuation, control characters, unicode spliced in): refused with a code and a line, or accepted', { timeout: 30_000 }, async (t) => {
    const tally = new Tally();
    const tokens = ['=', '"', "'", '[', ']', '[[', ']]', '\n', '#', "'''", '"""', '{', '}', ',', '.', '\0', '\r', '\\', '\\u', '\\U0010FFFF', 'é', '\u{1F600}', '\u202e', '\ufeff',
      '1', '-', 'inf', 'nan', '0x', '1e999', 'true', ' ', '\t', '99999999999999999999', '[service.x]', '[[plugins.extra]]', 'use = "x"'];
    const edit = fc.record({ at: fc.nat(), del: fc.nat({ max: 6 }), ins: fc.oneof(fc.constantFrom(...tokens), fc.string({ unit: 'grapheme-ascii', maxLength: 4 })) });
    await check(fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 6 }), async (edits) => {
      let text = VALID;
      for (const e of edits) {
        const at = e.at % (text.length + 1);
        text = text.slice(0, at) + e.ins + text.slice(at + e.del);
      }
      const v = await verdict(text, true);
      if (!v.ok) assertLocated(v.err, text);
      tally.add(v.ok ? 'accepted' : v.err.code);
    }), 2000);
    tally.print(t, 'mutations');
  });

  test('one value of another type (string for number, arrays for tables, huge, negative, NaN-like, dates, unicode, unknown keys): refused naming the key and its line, or accepted', { timeout: 30_000 }, async (t) => {
    const tally = new Tally();
    await check(fc.asyncProperty(keyArb, tomlValue, async ({ path: p, kind }, value) => {
      const { text, line } = withValue(p, value);
      const v = await verdict(text, true);
      tally.add(v.ok ? 'accepted' : v.err.code);
      if (v.ok) return;
      assertLocated(v.err, text);
      if (v.err.code === 'TEN_ERR_CONFIG_PARSE') { // a value TOML itself refuses (a lone surrogate, an int64 overflow)
        assert.equal(v.err.details.line, line, `${v.err.message}\nfor ${formatKey(p)} = ${value}`);
        return;
      }
      // the refusal names this key (or a key inside it), on this line
      const key = formatKey(p);
      const items = v.err.details.errors as Array<{ key: string; message: string; line?: number }> | undefined
        ?? [{ key: String(v.err.details.key), message: v.err.message, line: v.err.details.line as number | undefined }];
      const mine = items.find((i) => i.key === key || i.key.startsWith(`${key}.`) || i.key.startsWith(`${key}[`) || (p.length === 1 && i.key.startsWith(`${String(p[0])}`)));
      // a [service] table emptied (`service = {}`) is valid in itself: what it breaks is [instances]
      // naming services no longer defined, refused at their own keys and lines (seed 96425)
      if (!mine && p[0] === 'service' && items.every((i) => i.key.startsWith('instances.') && /names service "[^"]+", which is not defined/.test(i.message))) return;
      assert.ok(mine, `${kind}: no error about ${key} (= ${value.slice(0, 60)}) in:\n${v.err.message}`);
      assert.ok(mine.message.includes(key.slice(0, 60)) || mine.message.includes(String(p.at(-1))), `the message names ${key}: ${mine.message}`);
      assert.equal(mine.line, line, `${kind}: ${mine.message}\nfor ${key} = ${value.slice(0, 60)}`);
    }), 2000);
    tally.print(t, 'type-confused values');
  });
});
