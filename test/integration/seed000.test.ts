// Acceptance: the seed 000 session, verbatim, against the Node and the Python example apps.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanup, NODE_EXAMPLE, PY_EXAMPLE, startTen, waitFor } from './harness.ts';

after(cleanup);

const apps = {
  node: [process.execPath, NODE_EXAMPLE],
  python: ['python3', '-u', PY_EXAMPLE],
};

for (const [lang, argv] of Object.entries(apps)) {
  describe(`seed 000 weighted routing — ${lang} example app`, () => {
    test('spawn, weight 80/20, balanced shares, weight 0, direct route', async () => {
      const ten = await startTen(`[service.api]\nargs = ${JSON.stringify(argv)}\nhealth = "/health"\n[service.api.env]\nINSTANCE = "{name}:{id}"\n`);
      for (const args of [['spawn', 'api', '--id', 'v1'], ['spawn', 'api:v2']]) {
        const r = await ten.cli(...args);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /running/);
      }
      assert.equal((await ten.cli('weight', 'api:v1', '80')).code, 0);
      assert.equal((await ten.cli('weight', 'api:v2', '20')).code, 0);

      const ps = await ten.cli('ps');
      assert.equal(ps.code, 0, ps.stderr);
      const lines = ps.stdout.trim().split('\n');
      assert.match(lines[0], /^INSTANCE\s+SOCKET\s+UPTIME\s+HEALTH\s+WEIGHT/);
      assert.match(ps.stdout, /api:v1\s+127\.0\.0\.1:\d+\s+\S+\s+healthy\s+80/);
      assert.match(ps.stdout, /api:v2\s+127\.0\.0\.1:\d+\s+\S+\s+healthy\s+20/);

      const counts = await share(ten, 1000);
      assert.equal(counts['api:v1'] + counts['api:v2'], 1000);
      const v1 = counts['api:v1'] / 10;
      console.log(`seed 000 (${lang}): 1000 requests to api.localhost → v1 ${counts['api:v1']}, v2 ${counts['api:v2']}`);
      assert.ok(Math.abs(v1 - 80) <= 5, `v1 got ${v1}% of traffic, expected 80 ± 5`);

      // weight 0 excludes an instance from balanced traffic but keeps it running
      assert.equal((await ten.cli('weight', 'api:v2', '0')).code, 0);
      const zero = await share(ten, 200);
      assert.equal(zero['api:v2'] ?? 0, 0);
      // the direct route bypasses weights
      for (let i = 0; i < 50; i++) {
        const r = await ten.get('v2.api.localhost', '/');
        assert.equal(r.status, 200);
        assert.equal(r.json().instance, 'api:v2');
      }
      await waitFor('ps --json', async () => {
        const j = JSON.parse((await ten.cli('ps', '--json')).stdout);
        return j.instances.find((i: { key: string; state: string }) => i.key === 'api:v2' && i.state === 'running');
      });
      assert.equal(await ten.stop(), 0);
    });
  });
}

async function share(ten: Awaited<ReturnType<typeof startTen>>, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => ten.get('api.localhost', '/')));
    for (const r of batch) {
      assert.equal(r.status, 200, r.body);
      const id = r.json().instance as string;
      counts[id] = (counts[id] ?? 0) + 1;
    }
  }
  return counts;
}
