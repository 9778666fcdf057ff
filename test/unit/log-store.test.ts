// LogStore (logs.db): queries across segments, search text taken literally (never FTS5 syntax),
// retention by size and by age dropping whole segments, oldest first, and a resent line stored once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LogStore, type LogLine } from '../../core/log-store.ts';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const fresh = () => { const d = mkdtempSync(join(tmpdir(), 'ten-logstore-')); dirs.push(d); return d; };
const lines = (from: number, n: number, msg = (i: number) => `line ${i} ${'x'.repeat(100)}`, t = () => Date.now()): LogLine[] =>
  Array.from({ length: n }, (_, k) => ({ seq: from + k, t: t(), stream: 'stdout', service: 'api', instance: 'v1', pid: 7, message: msg(from + k) }));

describe('LogStore', () => {
  test('grep takes the text literally: quotes, FTS5 operators, LIKE wildcards, short strings', () => {
    const s = new LogStore(fresh());
    const texts = ['say "hi" NEAR(a b) OR *', 'col-umn - minus', '100% done_ok', 'naïve café ☕', 'ab'];
    s.write(texts.map((m, i) => ({ seq: i + 1, t: i, stream: 'stdout', service: 'api', instance: 'v1', pid: 1, message: m })), 1 << 30);
    const grep = (g: string) => s.query({ grep: g, limit: 10 }).map((l) => l.message);
    assert.deepEqual(grep('"hi" NEAR('), [texts[0]]);
    assert.deepEqual(grep('OR *'), [texts[0]]);
    assert.deepEqual(grep('- minus'), [texts[1]]);
    assert.deepEqual(grep('0%'), [texts[2]], 'short: LIKE with % escaped');
    assert.deepEqual(grep('_'), [texts[2]], 'short: LIKE with _ escaped');
    assert.deepEqual(grep('CAFÉ'), [texts[3]], 'case folded beyond ASCII too');
    assert.deepEqual(grep('café ☕'), [texts[3]]);
    assert.deepEqual(grep('AB'), [texts[4]], 'short strings: case-insensitive too');
    s.close();
  });

  test('the latest lines first across segments; since/until; a resent line is stored once', () => {
    const dir = fresh();
    const w = new LogStore(dir);
    const max = 1024 * 1024; // segments of ~128 KiB: 3,000 lines of ~120 bytes make several
    for (let i = 0; i < 30; i++) w.write(lines(1 + i * 100, 100, undefined, () => 1000 + i), max);
    w.write(lines(2951, 100, undefined, () => 1029), max); // 2,951–3,000 again, then 3,001–3,050
    const r = new LogStore(dir);
    const all = r.query({ limit: 10_000 });
    assert.equal(all.length, 3050);
    assert.deepEqual(all.map((l) => l.seq), Array.from({ length: 3050 }, (_, i) => i + 1), 'oldest first, no duplicate');
    assert.deepEqual(r.query({ limit: 3 }).map((l) => l.seq), [3048, 3049, 3050]);
    assert.equal(r.query({ since: 1029, limit: 10_000 }).length, 150);
    assert.equal(r.query({ until: 1001, limit: 10_000 }).length, 100);
    w.close();
    r.close();
  });

  test('retention: by size, the oldest segments go and the store ends under 90% of its budget', () => {
    const s = new LogStore(fresh());
    const max = 1024 * 1024;
    for (let i = 0; i < 100; i++) { s.write(lines(1 + i * 200, 200), max); s.retain(max, 86_400_000); }
    assert.ok(s.usedBytes() <= max, `${s.usedBytes()} bytes in use`);
    const kept = s.query({ limit: 100_000 });
    assert.equal(kept.at(-1)!.seq, 20_000, 'the newest line is kept');
    assert.ok(kept[0].seq > 1, 'the oldest went');
    assert.deepEqual(kept.map((l) => l.seq), Array.from({ length: kept.length }, (_, i) => kept[0].seq + i), 'what is kept is contiguous: whole segments go');
    s.close();
  });

  test('retention: by age, a segment goes once its newest line is older than log_max_age', () => {
    const s = new LogStore(fresh());
    const max = 1024 * 1024;
    for (let i = 0; i < 20; i++) s.write(lines(1 + i * 200, 200, undefined, () => 1_000 + i), max);
    const dropped = s.retain(max, 10, 1_020); // lines at t ≤ 1009 are older than 10 ms at t = 1020
    assert.ok(dropped > 0);
    for (const l of s.query({ limit: 100_000 })) assert.ok(l.t >= 1_000, 'kept lines');
    assert.ok(s.query({ until: 1_005, limit: 100_000 }).length < 1_000, 'old segments dropped');
    s.close();
  });
});
