// The log writer: a worker thread that owns the writes to logs.db, so that indexing a flood of
// output (tens of µs per line with the trigram index) never holds up the proxy's event loop.
// Messages from the main thread (logbook.ts): `write` (lines, acknowledged with their last seq),
// `limits` (new retention limits from a reload, applied at once) and `close`; every
// `retainEveryMs` it applies retention and reports what it dropped.
import { parentPort, workerData } from 'node:worker_threads';
import { LogStore, type LogLine } from './log-store.ts';

/** What the worker is started with. */
export interface WriterData { dataDir: string; maxBytes: number; maxAgeMs: number; retainEveryMs: number }
/** Main → worker. */
export type ToWriter = { type: 'write'; lines: LogLine[] } | { type: 'limits'; maxBytes: number; maxAgeMs: number } | { type: 'close' };
/** Worker → main: `written` up to `seq`; `dropped` lines by retention; a write that failed. */
export type FromWriter = { type: 'written'; seq: number } | { type: 'dropped'; lines: number } | { type: 'error'; message: string };

if (parentPort) {
  const port = parentPort;
  const d = workerData as WriterData;
  const store = new LogStore(d.dataDir);
  const send = (m: FromWriter) => port.postMessage(m);
  const retain = () => {
    try {
      const n = store.retain(d.maxBytes, d.maxAgeMs);
      if (n > 0) send({ type: 'dropped', lines: n });
    } catch (err) {
      send({ type: 'error', message: `retention: ${(err as Error).message}` });
    }
  };
  const timer = setInterval(retain, d.retainEveryMs);
  let sinceRetain = 0;
  port.on('message', (m: ToWriter) => {
    if (m.type === 'close') {
      clearInterval(timer);
      store.close();
      port.close();
      return;
    }
    if (m.type === 'limits') {
      d.maxBytes = m.maxBytes;
      d.maxAgeMs = m.maxAgeMs;
      retain();
      return;
    }
    try {
      store.write(m.lines, d.maxBytes);
    } catch (err) {
      send({ type: 'error', message: (err as Error).message });
    }
    send({ type: 'written', seq: m.lines[m.lines.length - 1]?.seq ?? 0 });
    // a flood fills a segment in well under the timer's period: check after each eighth of the budget
    sinceRetain += m.lines.reduce((n, l) => n + l.message.length + 64, 0);
    if (sinceRetain * 4 > d.maxBytes / 8) { sinceRetain = 0; retain(); }
  });
}
