// What the input fuzz tests (fuzz-api.test.ts, fuzz-host.test.ts) share: one real `ten serve` with a
// running instance (api:v1) and a spawn_on_request service (dyn), the management routes it logs at
// start (so routes added later are fuzzed too), and the invariants checked after every batch: the
// server answers /health, its process is alive and logged no internal error, the store's
// instances table and the data dir's entries are as before, and no file named with the escape
// marker exists anywhere a path traversal could have put it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { isDnsLabel } from '../../core/config-schema.ts';
import { fixtureService, ROOT, startTen, type Ten, waitFor } from './harness.ts';

/** A path segment no legitimate file has: an id that escaped its folder would leave it behind. */
export const MARK = 'zz-fuzz-escape';

/** Ids and names that are not DNS labels, of every kind the brief names; each stays invalid
 *  after a Host header's normalization (lowercase, one trailing dot dropped). */
export const HOSTILE_IDS: readonly string[] = [
  '..', '.', `../${MARK}`, `../../${MARK}`, `../../../../../../tmp/${MARK}`, `a/${MARK}`, `/${MARK}`, `%2F${MARK}`, `..%2F${MARK}`, '%2e%2e', `..\\${MARK}`,
  'a\0b', '\0', '%00', 'a%00b', '', ' ', 'a b', 'a\tb', 'a\nb', 'a\r\nX-Injected: 1',
  'a'.repeat(64), 'a'.repeat(300), `${'a'.repeat(62)}-`, '-a', 'a-', 'a_b', 'a.b', 'a..b', '*', '?', '#', '~', '@', 'a:b', '$(id)', '`id`', ';id', '|id',
  '\u0430pi', 'ａｐｉ', 'api\u200b', '\u202eipa', 'ápi', 'ı', '\u212a', '😀', '\ufeffapi', 'api\u0000',
];
/** Ids that are invalid in URLs, bodies and the CLI, but name a host label once lowercased. */
export const UPPERCASE_IDS: readonly string[] = ['API', 'V1', 'Api', 'GHOST'];

/** Random strings that are not DNS labels (unicode, controls, separators, long). */
export const hostileIdArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_IDS),
  fc.string({ unit: fc.constantFrom(...'aZ09-._/\\%:@ \t\0\u00e9\u0430\u200b'), maxLength: 70 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
).filter((s) => !isDnsLabel(s.toLowerCase().replace(/\.$/, '')));


export interface World {
  ten: Ten;
  /** `METHOD /path/:param` of every management route, from ten serve's debug log. */
  routes: string[];
  /** The invariants above; `what` names the batch in failure messages. */
  assertIntact(what: string): Promise<void>;
}

/** A file-system snapshot of the things a request must never create: names, not contents (the
 *  databases' own files change with every log line). */
function entries(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (/\.db(-wal|-shm|-journal)?$/.test(e.name)) continue;
      out.push(relative(dir, p) + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory() && depth < 4) walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  return out.sort();
}

function storedInstances(dataDir: string): string[] {
  const db = new Database(join(dataDir, 'tenement.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT service, id, weight FROM instances ORDER BY service, id').all() as Array<{ service: string; id: string; weight: number }>)
      .map((r) => `${r.service}:${r.id}@${r.weight}`);
  } finally {
    db.close();
  }
}

/** Log lines of ten serve that mean an internal fault: error or fatal level, or an unhandled error. */
function faults(output: string): string[] {
  return output.split('\n').filter((l) => /"level":(50|60)\b/.test(l) || /unhandled|uncaught/i.test(l));
}

/** Starts the target: api (api:v1 running) and dyn (spawn_on_request, no instances). */
export async function startWorld(): Promise<World> {
  const ten = await startTen(`[settings]\nhealth_interval = 60\n${fixtureService('api')}\n${fixtureService('dyn', 'spawn_on_request = true\nmax_instances = 2')}\n[instances]\napi = ["v1"]\n`);
  await waitFor('api:v1 answering', async () => (await ten.get('v1.api.localhost', '/')).status === 200, 20_000);
  const line = ten.output().split('\n').find((l) => l.includes('"msg":"management routes"'));
  assert.ok(line, 'ten serve logs its management routes at debug level');
  const routes = (JSON.parse(line) as { routes: string[] }).routes;
  const dataDir = join(ten.dir, 'data');
  const before = { instances: storedInstances(dataDir), files: entries(ten.dir) };
  assert.deepEqual(before.instances, ['api:v1@100']);
  const markers = [ten.dir, dataDir, join(dataDir, 'api'), join(dataDir, 'dyn'), dirname(ten.dir), tmpdir(), ROOT, '/', '/tmp'].map((d) => join(d, MARK));
  return {
    ten, routes,
    async assertIntact(what) {
      const health = await ten.get('localhost', '/health');
      assert.equal(health.status, 200, `${what}: /health answered ${health.status} ${health.body}`);
      assert.equal(ten.child.exitCode, null, `${what}: ten serve exited`);
      assert.deepEqual(faults(ten.output()), [], `${what}: ten serve logged an internal fault`);
      assert.deepEqual(storedInstances(dataDir), before.instances, `${what}: the store's instances table changed`);
      assert.deepEqual(entries(ten.dir), before.files, `${what}: files appeared or went in the data dir or next to it`);
      for (const m of markers) assert.ok(!existsSync(m), `${what}: ${m} exists`);
    },
  };
}

/** `url` with each `:param` replaced by `value` (already encoded as it is to be sent). */
export function fill(url: string, value: (param: string, i: number) => string): string {
  let i = 0;
  return url.replace(/:(\w+)/g, (_, p: string) => value(p, i++));
}
