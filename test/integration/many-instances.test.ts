// Many tenants: 3,000 registered instances (stored, asleep) on one ten serve. The real CLI, as a
// child process writing into a pipe, prints all of them (it used to exit before stdout had
// drained: `ten ps | wc -l` lost rows past 64 KiB), and ten serve answers while its boot
// instances start.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Store } from '../../core/store.ts';
import { cleanup, fixtureService, startTen } from './harness.ts';

after(cleanup);

const COUNT = 3000;

test(`ten ps and ten ps --json through a pipe list all ${COUNT} instances`, async () => {
  const first = await startTen(fixtureService('svc', 'spawn_on_request = true\nmax_instances = 10000'));
  assert.equal(await first.stop(), 0);
  const store = new Store(join(first.dir, 'data'));
  const ids = Array.from({ length: COUNT }, (_, i) => `t${String(i).padStart(5, '0')}`);
  store.putWeights(ids.map((id) => ['svc', id, 100] as const));
  store.close();
  const ten = await first.restart();

  const json = await ten.cli('ps', '--json');
  assert.equal(json.code, 0, json.stderr);
  const listed = JSON.parse(json.stdout).instances as Array<{ key: string; state: string }>;
  assert.equal(listed.length, COUNT, `ten ps --json printed ${json.stdout.length} bytes`);
  assert.ok(listed.every((i) => i.state === 'idle'));

  const table = await ten.cli('ps');
  assert.equal(table.code, 0, table.stderr);
  assert.equal(table.stdout.trimEnd().split('\n').length, COUNT + 1, 'a header line and one line per instance');
});
