// Registry + Store on a real SQLite file in a temp dir.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { type ErrorCode, TenementError } from '../../core/errors.ts';
import { createHooks } from '../../core/hooks.ts';
import { assertName, assertWeight, DNS_LABEL, Registry } from '../../core/registry.ts';
import { Store } from '../../core/store.ts';
import type { Transition, WeightChange } from '../../core/types.ts';

const dirs: string[] = [];
const stores: Store[] = [];
after(() => {
  for (const s of stores) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh data dir with a Store and a Registry on it. */
function fresh() {
  const dataDir = mkdtempSync(join(tmpdir(), 'tenement-registry-'));
  dirs.push(dataDir);
  return { dataDir, ...open(dataDir) };
}
function open(dataDir: string) {
  const store = new Store(dataDir);
  stores.push(store);
  const hooks = createHooks(pino({ level: 'silent' }));
  return { store, hooks, registry: new Registry(hooks, store) };
}

function throwsCode(fn: () => unknown, code: ErrorCode, status?: number) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TenementError, `expected a TenementError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (status !== undefined) assert.equal(e.statusCode, status);
    return true;
  });
}

describe('Store', () => {
  test('creates tenement.db (and the data dir) and reopens it', () => {
    const parent = mkdtempSync(join(tmpdir(), 'tenement-store-'));
    dirs.push(parent);
    const dataDir = join(parent, 'nested', 'data');
    const a = new Store(dataDir);
    stores.push(a);
    assert.equal(a.path, join(dataDir, 'tenement.db'));
    assert.ok(statSync(a.path).isFile());
    a.putInstance('api', 'v1', 40);
    a.close();
    a.close(); // idempotent
    const b = new Store(dataDir);
    stores.push(b);
    assert.deepEqual(b.listInstances().map(({ service, id, weight }) => ({ service, id, weight })), [{ service: 'api', id: 'v1', weight: 40 }]);
  });

  test('an unusable data dir → TEN_ERR_STORE_OPEN_FAILED', () => {
    const parent = mkdtempSync(join(tmpdir(), 'tenement-store-'));
    dirs.push(parent);
    writeFileSync(join(parent, 'file'), 'not a dir');
    throwsCode(() => new Store(join(parent, 'file')), 'TEN_ERR_STORE_OPEN_FAILED', 500);
  });

  test('putInstance on an existing row updates the weight, keeps created_at', () => {
    const { store } = fresh();
    store.putInstance('api', 'v1', 10);
    const [first] = store.listInstances();
    store.putInstance('api', 'v1', 90);
    assert.deepEqual(store.listInstances(), [{ ...first, weight: 90 }]);
  });
});

describe('Registry persistence', () => {
  test('create persists: a second Store on the same dir lists it with its weight', () => {
    const { dataDir, registry } = fresh();
    const inst = registry.create('api', 'v1', 70);
    registry.create('api', 'v2', 30);
    registry.create('web', 'prod', 100);
    assert.equal(inst.state, 'stopped');
    assert.equal(inst.key, 'api:v1');
    assert.equal(inst.health, 'unknown');
    assert.equal(registry.get('api', 'v1'), inst);
    assert.equal(registry.require('api', 'v1'), inst);
    assert.deepEqual(registry.list('api').map((i) => i.id), ['v1', 'v2']);
    assert.equal(registry.list().length, 3);

    const other = open(dataDir);
    const rows = other.store.listInstances().map(({ service, id, weight }) => `${service}:${id}=${weight}`).sort();
    assert.deepEqual(rows, ['api:v1=70', 'api:v2=30', 'web:prod=100']);
  });

  test('create(persist = false) keeps it in memory only', () => {
    const { dataDir, registry } = fresh();
    registry.create('api', 'boot', 100, false);
    assert.ok(registry.get('api', 'boot'));
    assert.deepEqual(open(dataDir).store.listInstances(), []);
  });

  test('setWeight persists', () => {
    const { dataDir, registry } = fresh();
    const inst = registry.create('api', 'v1', 100);
    registry.setWeight(inst, 0);
    assert.equal(inst.weight, 0);
    assert.equal(open(dataDir).store.listInstances()[0].weight, 0);
    registry.setWeight(inst, 55);
    assert.equal(open(dataDir).store.listInstances()[0].weight, 55);
  });

  test('remove deletes from memory and store', () => {
    const { dataDir, registry } = fresh();
    const v1 = registry.create('api', 'v1', 50);
    registry.create('api', 'v2', 50);
    registry.remove(v1);
    assert.equal(registry.get('api', 'v1'), undefined);
    throwsCode(() => registry.require('api', 'v1'), 'TEN_ERR_INSTANCE_NOT_FOUND', 404);
    assert.deepEqual(open(dataDir).store.listInstances().map((r) => r.id), ['v2']);
    // the id can be reused after removal
    assert.equal(registry.create('api', 'v1', 10).weight, 10);
  });

  test('duplicate → TEN_ERR_INSTANCE_EXISTS (409), the original is untouched', () => {
    const { dataDir, registry } = fresh();
    const inst = registry.create('api', 'v1', 20);
    throwsCode(() => registry.create('api', 'v1', 80), 'TEN_ERR_INSTANCE_EXISTS', 409);
    assert.equal(registry.get('api', 'v1'), inst);
    assert.equal(inst.weight, 20);
    assert.equal(open(dataDir).store.listInstances()[0].weight, 20);
    // same id under another service is a different instance
    const web = registry.create('web', 'v1', 20);
    assert.notEqual(web, inst);
    assert.equal(registry.get('web', 'v1'), web);
    assert.equal(registry.get('api', 'v1'), inst);
  });

  test('transition goes through lifecycle and fires hooks.transition', () => {
    const { registry, hooks } = fresh();
    const seen: Transition[] = [];
    hooks.transition.tap('t', (t) => { seen.push(t); });
    const inst = registry.create('api', 'v1', 50);
    assert.equal(registry.transition(inst, 'starting', 'spawn'), true);
    assert.deepEqual(seen.map((t) => [t.from, t.to, t.reason]), [['stopped', 'starting', 'spawn']]);
    assert.throws(() => registry.transition(inst, 'idle', 'x'));
  });
});

describe('Registry.setWeights', () => {
  /** Records every hooks.weights call, with each instance's in-memory weight as seen by the tap. */
  function recordWeights(hooks: ReturnType<typeof createHooks>) {
    const calls: Array<{ changes: WeightChange[]; reason: string; seen: number[] }> = [];
    hooks.weights.tap('rec', (changes, reason) => { calls.push({ changes, reason, seen: changes.map((c) => c.instance.weight) }); });
    return calls;
  }
  const stored = (dataDir: string) =>
    open(dataDir).store.listInstances().map(({ service, id, weight }) => `${service}:${id}=${weight}`).sort();

  test('persists every row in one store call: a second Store sees them all', () => {
    const { dataDir, registry, store } = fresh();
    const a = registry.create('api', 'a', 100);
    const b = registry.create('api', 'b', 0);
    const c = registry.create('web', 'c', 50);
    const batches: Array<ReadonlyArray<readonly [string, string, number]>> = [];
    const put = store.putWeights.bind(store);
    store.putWeights = (rows) => { batches.push(rows); put(rows); };
    store.putInstance = () => { assert.fail('setWeights must not write row by row'); };
    registry.setWeights([[a, 90], [b, 10], [c, 0]], 'canary step');
    assert.deepEqual(batches, [[['api', 'a', 90], ['api', 'b', 10], ['web', 'c', 0]]]);
    assert.deepEqual([a.weight, b.weight, c.weight], [90, 10, 0]);
    assert.deepEqual(stored(dataDir), ['api:a=90', 'api:b=10', 'web:c=0']);
  });

  test('Store.putWeights writes all rows in one transaction', () => {
    const { dataDir, store } = fresh();
    store.putInstance('api', 'a', 100);
    store.putInstance('api', 'b', 0);
    store.putWeights([['api', 'a', 25], ['api', 'b', 75]]);
    assert.deepEqual(stored(dataDir), ['api:a=25', 'api:b=75']);
    // a failure on a later row rolls back the earlier ones
    store.db.exec(`CREATE TRIGGER no_13 BEFORE UPDATE ON instances WHEN NEW.weight = 13
      BEGIN SELECT RAISE(ABORT, 'weight 13 refused'); END`);
    assert.throws(() => store.putWeights([['api', 'a', 50], ['api', 'b', 13]]), /weight 13 refused/);
    assert.deepEqual(stored(dataDir), ['api:a=25', 'api:b=75']);
  });

  test('all-or-nothing: one invalid weight → TEN_ERR_API_INVALID_WEIGHT, nothing changes, no hook call', () => {
    const { dataDir, registry, hooks } = fresh();
    const calls = recordWeights(hooks);
    const a = registry.create('api', 'a', 100);
    const b = registry.create('api', 'b', 0);
    for (const bad of [101, -1, 1.5, NaN, '50', null]) {
      throwsCode(() => registry.setWeights([[a, 50], [b, bad as number]], 'split'), 'TEN_ERR_API_INVALID_WEIGHT', 400);
      throwsCode(() => registry.setWeights([[a, bad as number], [b, 50]], 'split'), 'TEN_ERR_API_INVALID_WEIGHT', 400);
    }
    assert.deepEqual([a.weight, b.weight], [100, 0]);
    assert.deepEqual(stored(dataDir), ['api:a=100', 'api:b=0']);
    assert.deepEqual(calls, []);
  });

  test('fires hooks.weights once, with only the changed instances and the reason, after applying them', () => {
    const { registry, hooks } = fresh();
    const calls = recordWeights(hooks);
    const a = registry.create('api', 'a', 100);
    const b = registry.create('api', 'b', 0);
    const c = registry.create('api', 'c', 30);
    registry.setWeights([[a, 80], [b, 0], [c, 20]], 'rollout step 1');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].reason, 'rollout step 1');
    assert.deepEqual(calls[0].changes.map((ch) => [ch.instance, ch.from, ch.to]), [[a, 100, 80], [c, 30, 20]]);
    assert.equal(calls[0].changes[0].instance, a);
    assert.equal(calls[0].changes[1].instance, c);
    assert.deepEqual(calls[0].seen, [80, 20], 'the tap sees the new weights already applied');
    // nothing changed → no call
    registry.setWeights([[a, 80], [b, 0]], 'no-op');
    assert.equal(calls.length, 1);
    // setWeight goes through the same path: one change, the given reason
    registry.setWeight(b, 5, 'ten weight');
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1].changes.map((ch) => [ch.instance, ch.from, ch.to]), [[b, 0, 5]]);
    assert.equal(calls[1].reason, 'ten weight');
  });
});

describe('names and weights', () => {
  const badNames = ['../x', 'A B', 'a'.repeat(64), '-a', 'a-', '', 'Api', 'a_b', 'a.b', 'a/b', ' a', 'é'];
  const goodNames = ['a', 'v2', 'prod-1', '0', 'a'.repeat(63), 'a-b-c'];

  test('invalid names → TEN_ERR_API_INVALID_NAME (400), nothing created or persisted', () => {
    const { dataDir, registry } = fresh();
    for (const bad of badNames) {
      throwsCode(() => registry.create('api', bad, 50), 'TEN_ERR_API_INVALID_NAME', 400);
      throwsCode(() => registry.create(bad, 'v1', 50), 'TEN_ERR_API_INVALID_NAME', 400);
    }
    assert.deepEqual(registry.list(), []);
    assert.deepEqual(open(dataDir).store.listInstances(), []);
  });

  test('the message names which field is wrong', () => {
    assert.throws(() => assertName('id', '../x'), /invalid id "\.\.\/x"/);
    assert.throws(() => assertName('service', 'A B'), /invalid service "A B"/);
  });

  test('valid names are accepted', () => {
    const { registry } = fresh();
    for (const good of goodNames) assert.equal(registry.create(good, good, 1).key, `${good}:${good}`);
    assert.equal(registry.list().length, goodNames.length);
  });

  test('property: assertName accepts exactly the DNS labels', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 70 }), fc.stringMatching(/^[a-z0-9-]{1,64}$/)), (s) => {
      const ok = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(s);
      assert.equal(DNS_LABEL.test(s), ok);
      if (ok) assertName('id', s); else assert.throws(() => assertName('id', s), TenementError);
    }), { numRuns: 500 });
  });

  test('invalid weights (101, -1, 1.5, "50", NaN, ...) → TEN_ERR_API_INVALID_WEIGHT (400)', () => {
    const { dataDir, registry } = fresh();
    const inst = registry.create('api', 'v1', 40);
    for (const bad of [101, -1, 1.5, '50', NaN, Infinity, -0.5, null, undefined, true, [50], {}]) {
      throwsCode(() => registry.create('api', 'x', bad as number), 'TEN_ERR_API_INVALID_WEIGHT', 400);
      throwsCode(() => registry.setWeight(inst, bad as number), 'TEN_ERR_API_INVALID_WEIGHT', 400);
    }
    assert.equal(inst.weight, 40);
    assert.equal(registry.get('api', 'x'), undefined);
    assert.deepEqual(open(dataDir).store.listInstances().map((r) => r.weight), [40]);
  });

  test('weights 0 and 100 are the bounds', () => {
    assertWeight(0);
    assertWeight(100);
    const { registry } = fresh();
    assert.equal(registry.create('api', 'zero', 0).weight, 0);
    assert.equal(registry.create('api', 'full', 100).weight, 100);
  });

  test('property: assertWeight accepts exactly the integers 0..100', () => {
    fc.assert(fc.property(fc.oneof(fc.integer({ min: -200, max: 300 }), fc.double()), (w) => {
      const ok = Number.isInteger(w) && w >= 0 && w <= 100;
      if (ok) assertWeight(w); else assert.throws(() => assertWeight(w), TenementError);
    }), { numRuns: 500 });
  });
});

// The API tokens (core/auth.ts, core/tokens.ts) are tested in tokens.test.ts.
