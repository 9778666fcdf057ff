// Logs benchmark (npm run bench): what the logbook costs and gives, next to GNU grep over the same
// lines in a plain file in the same run (what a user without tenement's index would run).
//   - ingest: lines/s the log-writer worker stores (trigram FTS5 index included), and the main
//     thread's own cost per line (splitting, ring, followers: what the proxy's event loop pays);
//   - search: one rare line among 100,000 (`ten logs --grep`), a common word with limit 100, the
//     tail of one instance; p50/p99 over ROUNDS queries;
//   - grep -F over the same 100,000 lines in a file, same needles.
// Prints a markdown table and writes bench/results/logs.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LineSplitter } from '../core/log-lines.ts';
import { Logbook } from '../core/logbook.ts';
import { ROOT } from '../test/integration/harness.ts';

const LINES = Number(process.env.LINES ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 50);
const now = () => performance.now();
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const line = (i: number) => `${new Date(1_800_000_000_000 + i * 10).toISOString()} GET /api/items/${i % 5000} 200 ${(i * 7) % 300}ms user=u${i % 997} req=${((i * 2654435761) % 4294967296).toString(16)}`;

const dir = mkdtempSync(join(tmpdir(), 'ten-bench-logs-'));
try {
  const book = new Logbook({ dataDir: dir, maxBytes: 1 << 30, maxAgeMs: 86_400_000, ringLines: 1000, log: pino({ level: 'warn' }) });
  const split = new LineSplitter(16384, book.sink('api', 'v1', 'stdout', 1));
  // ingest in chunks of 1000 lines a turn, like a pipe delivers a busy app's output
  let mainMs = 0;
  const t0 = now();
  for (let i = 0; i < LINES; i += 1000) {
    let chunk = '';
    for (let k = i; k < Math.min(LINES, i + 1000); k++) chunk += `${line(k)}\n`;
    const buf = Buffer.from(chunk);
    const m0 = now();
    split.push(buf);
    mainMs += now() - m0;
    await new Promise((r) => setImmediate(r));
    // stay under the logbook's bound (a faster flood is dropped by design: see docs/observability.md)
    while (book.backlog > 20_000) await new Promise((r) => setTimeout(r, 2));
  }
  while (book.backlog > 0) await new Promise((r) => setTimeout(r, 2));
  const ingestS = (now() - t0) / 1000;
  const needle = line(77_777).slice(-30);
  const time = (fn: () => unknown) => { const xs: number[] = []; for (let r = 0; r < ROUNDS; r++) { const a = now(); fn(); xs.push(now() - a); } return xs; };
  const rare = time(() => book.query({ grep: needle, limit: 100 }));
  const common = time(() => book.query({ grep: 'user=u42 ', limit: 100 }));
  const tail = time(() => book.query({ service: 'api', instance: 'v1', limit: 100 }));
  await book.close();

  const file = join(dir, 'plain.log');
  writeFileSync(file, Array.from({ length: LINES }, (_, i) => `${line(i)}\n`).join(''));
  const grep = (text: string) => time(() => { try { execFileSync('grep', ['-F', '-i', '-m', '100', text, file]); } catch { /* no match: exit 1 */ } });
  const grepRare = grep(needle);
  const grepCommon = grep('user=u42 ');

  const row = (what: string, ten: number[], peer?: number[]) => `| ${what} | ${quantile(ten, 0.5).toFixed(2)} | ${quantile(ten, 0.99).toFixed(2)} | ${peer ? quantile(peer, 0.5).toFixed(2) : '–'} |`;
  const results = {
    lines: LINES, rounds: ROUNDS, ingest_lines_per_s: Math.round(LINES / ingestS), main_thread_us_per_line: (mainMs * 1000) / LINES,
    rare_ms: { p50: quantile(rare, 0.5), p99: quantile(rare, 0.99) }, common_ms: { p50: quantile(common, 0.5), p99: quantile(common, 0.99) },
    tail_ms: { p50: quantile(tail, 0.5), p99: quantile(tail, 0.99) }, grep_rare_ms: quantile(grepRare, 0.5), grep_common_ms: quantile(grepCommon, 0.5),
  };
  console.log(`\n### Logs: ${LINES} lines, ${ROUNDS} queries each\n`);
  console.log(`Stored ${results.ingest_lines_per_s} lines/s through the writer thread (index included); the main thread spent ${results.main_thread_us_per_line.toFixed(2)} µs a line.\n`);
  console.log('| query | tenement p50 ms | p99 ms | grep -F over a plain file, p50 ms |\n|---|---|---|---|');
  console.log(row('one rare line (`--grep`)', rare, grepRare));
  console.log(row('a common word, latest 100', common, grepCommon));
  console.log(row('latest 100 of one instance', tail));
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/logs.json'), JSON.stringify(results, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
