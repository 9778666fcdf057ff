// docs/observability.md and docs/plugins/prometheus-exporter.md list the metrics as built: a real
// ten serve is scraped, the text parsed with a Prometheus text-format parser, and each page's table
// must name exactly the tenement_* families it exposes, with their types and labels.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanup, fixtureService, ROOT, startTen, waitFor } from './harness.ts';

after(cleanup);

interface Family { name: string; type: string; metrics: Array<{ labels?: Record<string, string>; buckets?: unknown }> }
/** The parser ships CommonJS without types. */
const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

/** The rows `| \`tenement_…\` | type | labels | …` of a page's metric table. */
function table(page: string): Map<string, { type: string; labels: string[] }> {
  const rows = new Map<string, { type: string; labels: string[] }>();
  for (const m of readFileSync(join(ROOT, page), 'utf8').matchAll(/^\| `(tenement_[a-z_]+)` \| (\w+) \| ([^|]*) \|/gm)) {
    rows.set(m[1], { type: m[2], labels: m[3].split(',').map((l) => l.trim()).filter(Boolean).sort() });
  }
  return rows;
}

test('the metric tables of the docs name exactly the tenement_* metrics a real scrape exposes', async () => {
  const ten = await startTen(`[settings]\nhealth_interval = 0.2\n${fixtureService('api')}\n[instances]\napi = ["v1"]\n`);
  await waitFor('api:v1 running', async () => (await ten.api('GET', '/api/instances/api/v1')).json().state === 'running');
  for (let i = 0; i < 5; i++) await ten.get('api.localhost', '/');
  await waitFor('a health check counted', async () => (await ten.api('GET', '/metrics')).body.includes('tenement_health_checks_total{'));
  const families = parsePrometheusTextFormat((await ten.api('GET', '/metrics')).body).filter((f) => f.name.startsWith('tenement_'));
  assert.ok(families.length >= 15, `families: ${families.map((f) => f.name)}`);
  for (const page of ['docs/observability.md', 'docs/plugins/prometheus-exporter.md']) {
    const rows = table(page);
    assert.deepEqual([...rows.keys()].sort(), families.map((f) => f.name).sort(), `${page}: the table's metrics`);
    for (const f of families) {
      assert.equal(rows.get(f.name)!.type, f.type.toLowerCase(), `${page}: type of ${f.name}`);
      const sample = f.metrics.find((m) => m.labels && Object.keys(m.labels).length > 0);
      if (sample) {
        const labels = Object.keys(sample.labels!).filter((l) => l !== 'le').sort();
        assert.deepEqual(rows.get(f.name)!.labels, labels, `${page}: labels of ${f.name}`);
      }
    }
  }
});
