// Logs end to end: an app's stdout and stderr, and the event stream, through ten serve into
// logs.db and back out through the API and `ten logs` (search, follow), across a restart of ten
// serve; long lines and binary output; retention under a flood; bounds on followers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanup, ROOT, startTen, waitFor, type Ten } from './harness.ts';

after(cleanup);

const LOG_APP = join(ROOT, 'test/fixtures/log-app.mjs');
const service = (extra = '') => `[service.web]\nargs = ["${process.execPath}", "${LOG_APP}"]\n${extra}\n[instances]\nweb = ["a"]\n`;
const LINE = /^\d\d:\d\d:\d\d \[(OUT|ERR|EVT)\] web(:a)? .*$/;

interface Line { seq: number; t: number; stream: string; service: string; instance: string; pid: number | null; message: string }
const logs = async (ten: Ten, q: string): Promise<Line[]> => {
  const r = await ten.api('GET', `/api/logs?${q}`);
  assert.equal(r.status, 200, r.body);
  return r.json().lines;
};
/** The top-level keys a JSON object line has more than once (JSON.parse keeps only the last). */
function repeatedKeys(line: string): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      const key = line.slice(i + 1, j);
      if (depth === 1 && line[j + 1] === ':') {
        if (seen.has(key)) twice.push(key);
        seen.add(key);
      }
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return twice;
}
const rssOf = (ten: Ten) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${ten.child.pid}/status`, 'utf8'))![1]) * 1024;
const running = (ten: Ten) => waitFor('web:a running', async () => (await ten.api('GET', '/api/instances/web/a')).json().state === 'running');

describe('logs', () => {
  let ten: Ten;

  test('stdout, stderr and events, as `ten logs` prints them', async () => {
    ten = await startTen(`[settings]\nlog_line_max = 16384\n${service()}`);
    await running(ten);
    await ten.get('web.localhost', '/say?text=hello%20out');
    await ten.get('web.localhost', '/say?text=hello%20err&stream=err');
    await waitFor('both lines', async () => (await logs(ten, 'service=web&id=a&grep=hello')).length === 2);
    const r = await ten.cli('logs', 'web:a');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    for (const l of lines) assert.match(l, LINE);
    assert.ok(lines.some((l) => / \[OUT\] web:a hello out$/.test(l)), r.stdout);
    assert.ok(lines.some((l) => / \[ERR\] web:a hello err$/.test(l)), r.stdout);
    assert.ok(lines.some((l) => / \[EVT\] web:a spawned: pid \d+, port \d+$/.test(l)), r.stdout);
    assert.ok(lines.some((l) => / \[EVT\] web:a state: starting → running \(ready\)$/.test(l)), r.stdout);
    const err = await ten.cli('logs', 'web:a', '--stderr', '--json');
    const only = err.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    assert.deepEqual(only.map((l) => [l.stream, l.message]), [['stderr', 'hello err']]);
    assert.equal(typeof only[0].pid, 'number', 'the line carries the pid that wrote it');
    // ten serve's own log: every JSON line has each key once (pino's `pid` is ten serve's; the
    // instance's process is `app_pid`, as in the store's runs table)
    const own = ten.output().split('\n').filter((l) => l.startsWith('{'));
    assert.ok(own.length > 3, ten.output());
    for (const l of own) assert.deepEqual(repeatedKeys(l), [], l);
    const started = own.map((l) => JSON.parse(l)).find((l) => l.msg === 'instance running' && l.instance === 'web:a');
    assert.equal(started?.pid, ten.child.pid);
    assert.equal(typeof started?.app_pid, 'number');
  });

  test('-f streams new lines as they come, and Ctrl-C ends it with 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'logs', 'web:a', '-f', '-n', '1'], {
      cwd: ROOT, env: { ...process.env, TENEMENT_SERVER: `http://127.0.0.1:${ten.port}`, TENEMENT_TOKEN: ten.token }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    try {
      await waitFor('the backlog line', () => out.split('\n').filter(Boolean).length >= 1, 20_000);
      for (let i = 0; i < 3; i++) await ten.get('web.localhost', `/say?text=live-${i}`);
      await waitFor('three live lines', () => ['live-0', 'live-1', 'live-2'].every((t) => out.includes(`[OUT] web:a ${t}\n`)));
      assert.equal(out.trimEnd().split('\n').length, 4, `one backlog line, then the three: ${out}`);
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
  });

  test('a follower that reads keeps up with 10,000 lines/s: every line arrives, none skipped', async () => {
    const http = await import('node:http');
    let got = 0;
    let skipped = 0;
    let buf = '';
    const req = http.get({ port: ten.port, host: '127.0.0.1', path: '/api/logs/stream?service=web&id=a&stream=stdout', headers: { host: 'localhost', authorization: `Bearer ${ten.token}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        const events = buf.split('\n\n');
        buf = events.pop()!;
        for (const e of events) {
          if (e.startsWith('event: skipped')) skipped++;
          else if (e.includes('"message":"rate ')) got++;
        }
      });
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      await ten.get('web.localhost', '/lines?n=20000&rate=10000&prefix=rate', { timeoutMs: 30_000 });
      await waitFor('20,000 lines followed', () => got === 20000 || skipped > 0, 20_000);
      assert.equal(skipped, 0);
      assert.equal(got, 20000);
    } finally {
      req.destroy();
    }
  });

  test('one line among 100,000: --grep finds it, and it is still there after a restart of ten serve', async (t) => {
    await ten.get('web.localhost', '/lines?n=100000&rate=25000&prefix=bulk', { timeoutMs: 30_000 });
    await ten.get('web.localhost', '/say?text=the-needle-7f3a');
    await waitFor('the 100,000th line stored', async () => (await logs(ten, 'service=web&grep=bulk%2099999')).length === 1, 20_000);
    const total = (await logs(ten, 'service=web&id=a&stream=stdout&limit=10000&grep=bulk')).length;
    assert.equal(total, 10000, 'limit caps the answer');
    const t0 = performance.now();
    const hit = await logs(ten, 'service=web&grep=THE-NEEDLE-7f3a');
    t.diagnostic(`GET /api/logs?grep= over 100,000 lines: ${(performance.now() - t0).toFixed(1)} ms (a figure, not a check: bench/logs.ts measures it)`);
    assert.equal(hit.length, 1);
    const found = await ten.cli('logs', 'web', '--grep', 'THE-NEEDLE-7f3a');
    assert.match(found.stdout, /^\d\d:\d\d:\d\d \[OUT\] web:a the-needle-7f3a\n$/, found.stdout + found.stderr);
    assert.equal(await ten.stop(), 0);
    ten = await ten.restart();
    await running(ten);
    const again = await logs(ten, 'service=web&grep=the-needle-7f3a');
    assert.deepEqual(again.map((l) => l.message), ['the-needle-7f3a']);
    const events = await logs(ten, 'service=web&id=a&stream=event&limit=1000');
    assert.ok(events.some((l) => l.message.startsWith('exited: pid')), 'the exit at shutdown was logged');
    const seqs = (await logs(ten, 'service=web&limit=10000')).map((l) => l.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'numbering goes on after the restart');
  });

  test('a long line is split into lines of log_line_max, binary output is made safe, a last line without LF is kept', async () => {
    await ten.get('web.localhost', '/long?bytes=40000');
    await ten.get('web.localhost', '/binary');
    await ten.get('web.localhost', '/noeol?text=last%20words');
    await waitFor('the unterminated last line', async () => (await logs(ten, 'service=web&grep=last%20words')).length === 1);
    const long = (await logs(ten, 'service=web&stream=stdout&limit=200')).filter((l) => l.message.startsWith('é'));
    assert.equal(long.length, 3, '40,000 bytes in lines of at most 16,384');
    for (const l of long) assert.ok(Buffer.byteLength(l.message) <= 16384);
    assert.equal(long.map((l) => l.message).join(''), 'é'.repeat(20000), 'nothing lost, no character cut');
    const bin = (await logs(ten, 'service=web&stream=stdout&limit=200')).filter((l) => l.message.includes('\uFFFD'));
    assert.ok(bin.length > 0);
    for (const l of bin) assert.ok(!l.message.includes('\0'));
    await waitFor('the exit logged', async () => (await logs(ten, 'service=web&stream=event&grep=exited%20with%20code%200')).length > 0);
  });

  test('bad queries are 400 with a code', async () => {
    for (const q of ['since=yesterday', 'since=2026-02-30', 'limit=0', 'limit=10001', 'id=a', 'stream=stdin', 'service=Bad_Name', 'grep=a%00b', 'grep=%01']) {
      const r = await ten.api('GET', `/api/logs?${q}`);
      assert.equal(r.status, 400, q);
      assert.match(r.json().code, /^TEN_ERR_API_/, q);
    }
    const cli = await ten.cli('logs', 'web:a', '-n', 'many');
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /TEN_ERR_CLI_INVALID_ARGUMENT/);
  });

  test('-f --until ends with the window, exit 0; a closed pipe ends ten logs quietly', async () => {
    const t0 = Date.now();
    const r = await ten.cli('logs', 'web:a', '-f', '-n', '1', '--until', new Date(Date.now() + 1500).toISOString());
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 >= 1400, 'it followed until the window ended');
    const piped = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const sh = spawn('sh', ['-c', `"${process.execPath}" --import tsx "${join(ROOT, 'cli/main.ts')}" logs -n 10000 | head -1 >/dev/null; exit \${PIPESTATUS:-0}`], {
        cwd: ROOT, env: { ...process.env, TENEMENT_SERVER: `http://127.0.0.1:${ten.port}`, TENEMENT_TOKEN: ten.token },
      });
      let err = '';
      sh.stderr.on('data', (d) => { err += d; });
      sh.once('exit', (code) => resolve({ code, err }));
    });
    assert.equal(piped.err, '', 'no EPIPE stack trace');
  });

  test('at most 64 live streams; a follower that does not read is skipped for, not buffered for', async (t) => {
    const sockets: net.Socket[] = [];
    const open = () => new Promise<string>((resolve, reject) => {
      const s = net.connect(ten.port, '127.0.0.1');
      sockets.push(s);
      let head = '';
      s.on('data', (d) => { head += d; if (head.includes('\r\n\r\n')) { s.pause(); resolve(head); } }).on('error', reject);
      s.write(`GET /api/logs/stream?service=web HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${ten.token}\r\n\r\n`);
    });
    try {
      for (let i = 0; i < 64; i++) assert.match(await open(), /^HTTP\/1\.1 200/);
      const r = await ten.api('GET', '/api/logs/stream?service=web');
      assert.equal(r.status, 503);
      assert.equal(r.json().code, 'TEN_ERR_LOGS_TOO_MANY_FOLLOWERS');
      // 64 paused readers while the app writes 60,000 lines: ten serve holds at most 256 KiB of events for each
      const rssBefore = rssOf(ten);
      await ten.get('web.localhost', '/lines?n=60000&rate=20000&prefix=flood', { timeoutMs: 30_000 });
      assert.equal((await ten.api('GET', '/health')).status, 200);
      const rss = rssOf(ten);
      t.diagnostic(`ten serve RSS ${Math.round(rssBefore / 2 ** 20)} MiB before, ${Math.round(rss / 2 ** 20)} MiB after`);
      assert.ok(rss - rssBefore < 200 * 1024 * 1024, `ten serve RSS grew from ${rssBefore} to ${rss} bytes`);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await waitFor('the streams closed', async () => (await ten.api('GET', '/api/logs/stream?service=web&until=1000000000000')).status === 200);
  });
});

test('an app flooding stdout (yes) leaves the other instances their logs and ten serve its answers; the loss is said', async () => {
  const ten = await startTen(`[service.noisy]\ncommand = "sh -c 'yes & exec ${process.execPath} ${LOG_APP}'"\n`
    + `[service.web]\nargs = ["${process.execPath}", "${LOG_APP}"]\n[instances]\nweb = ["a"]\nnoisy = ["a"]\n`);
  await running(ten);
  await waitFor('the drop notice', async () => (await logs(ten, 'service=noisy&stream=event&grep=bytes%20of%20output%20dropped')).length > 0, 20_000);
  for (let i = 0; i < 5; i++) {
    assert.equal((await ten.get('web.localhost', `/say?text=quiet-${i}`)).status, 200);
    assert.equal((await ten.api('GET', '/health')).status, 200);
  }
  await waitFor('the quiet lines stored', async () => (await logs(ten, 'service=web&grep=quiet-')).length === 5);
  await ten.stop();
});

test('a damaged logs.db is moved aside at start: ten serve starts, a new store logs', async () => {
  const ten = await startTen(service(), { files: { 'data/logs.db': 'not a database '.repeat(7000) } });
  await running(ten);
  assert.ok(readdirSync(join(ten.dir, 'data')).some((f) => f.startsWith('logs.db.damaged-')), 'the damaged file is kept aside');
  assert.match(ten.output(), /logs\.db is damaged: moved aside/);
  await ten.get('web.localhost', '/say?text=after-damage');
  await waitFor('a line in the new store', async () => (await logs(ten, 'grep=after-damage')).length === 1);
  await ten.stop();
});

test('retention keeps logs.db under log_max_size while an app floods stdout', async (t) => {
  const max = 2 * 1024 * 1024;
  const ten = await startTen(`[settings]\nlog_max_size = ${max}\n${service()}`);
  await running(ten);
  for (let round = 0; round < 4; round++) await ten.get('web.localhost', `/lines?n=50000&rate=25000&prefix=round-${round}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`, { timeoutMs: 60_000 });
  await waitFor('the last round stored', async () => (await ten.api('GET', '/api/logs?service=web&grep=round-3')).json().lines.length > 0, 20_000);
  await new Promise((r) => setTimeout(r, 6000)); // a retention pass of the writer
  const db = join(ten.dir, 'data', 'logs.db');
  const size = statSync(db).size;
  const wal = statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  t.diagnostic(`logs.db ${size} bytes, WAL ${wal} bytes, log_max_size ${max}`);
  assert.ok(size <= max * 1.25, `logs.db is ${size} bytes, over log_max_size ${max}`);
  assert.ok(wal <= 12 * 1024 * 1024, `the WAL is ${wal} bytes`);
  const oldest = (await ten.api('GET', '/api/logs?service=web&grep=round-0&limit=1')).json().lines;
  assert.equal(oldest.length, 0, 'the oldest lines went first');
});

test('an open log stream does not hold up the shutdown of ten serve', async () => {
  const ten = await startTen(service());
  await running(ten);
  const http = await import('node:http');
  const req = http.get({ port: ten.port, host: '127.0.0.1', path: '/api/logs/stream?service=web', headers: { host: 'localhost', authorization: `Bearer ${ten.token}` } });
  const ended = new Promise<void>((resolve) => req.on('response', (res) => { res.resume(); res.once('end', resolve); res.once('close', resolve); }));
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  assert.equal(await ten.stop(), 0);
  await ended;
  assert.ok(Date.now() - t0 < 8000, `shutdown took ${Date.now() - t0} ms (drain_timeout is 10 s)`);
});
