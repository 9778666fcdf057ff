// The dashboard's SSE client (plugins/web-dashboard/assets/sse.js, browser code that also runs on
// Node 20: fetch, TextDecoderStream): the parser on every split of a stream (a CRLF cut in two,
// comments, multi-line data, a trailing event without its blank line), and readSse/follow against
// a real HTTP server — events, a 401 and a 404 that stop retrying, reconnecting after the server
// ends a stream.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';

type Ev = { event: string; data: string; id: string };
// plain JavaScript without type declarations: loaded by URL so that tsc does not look into it
const sse = await import(String(new URL('../../plugins/web-dashboard/assets/sse.js', import.meta.url)));
const api = await import(String(new URL('../../plugins/web-dashboard/assets/api.js', import.meta.url)));

const STREAM = ': ping\r\nevent: line\r\ndata: {"a":1}\r\n\r\ndata: one\ndata: two\n\nid: 7\ndata:no-space\r\r: ping\n\nevent: stats\ndata: x\n\ndata: unterminated';
const EXPECTED: Ev[] = [
  { event: 'line', data: '{"a":1}', id: '' },
  { event: 'message', data: 'one\ntwo', id: '' },
  { event: 'message', data: 'no-space', id: '7' },
  { event: 'stats', data: 'x', id: '7' },
];

describe('SseParser', () => {
  test('every two-piece split of a stream gives the same events (CRLF, CR, LF; comments; multi-line data)', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const got: Ev[] = [];
      const p = new sse.SseParser((e: Ev) => got.push(e));
      p.feed(STREAM.slice(0, cut));
      p.feed(STREAM.slice(cut));
      assert.deepEqual(got, EXPECTED, `cut at ${cut}`);
    }
  });

  test('one character at a time', () => {
    const got: Ev[] = [];
    const p = new sse.SseParser((e: Ev) => got.push(e));
    for (const c of STREAM) p.feed(c);
    assert.deepEqual(got, EXPECTED);
  });

  test('a line over 1 MiB is an error, not a buffer that grows', () => {
    const p = new sse.SseParser(() => {});
    assert.throws(() => p.feed(`data: ${'x'.repeat(1024 * 1024 + 1)}`), /longer than/);
  });
});

describe('readSse and follow against a real server', () => {
  let server: http.Server;
  let base: string;
  let connections = 0;
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/401') return void res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'TEN_ERR_API_UNAUTHORIZED', message: 'missing or invalid API token', hint: 'pass --token' }));
      if (req.url === '/404') return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'TEN_ERR_API_NOT_FOUND', message: 'no API route GET /404', hint: '' }));
      if (req.url === '/auth') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`data: ${req.headers.authorization}\n\n`);
      connections++;
      // two events in pieces, then the end of the stream (follow() reconnects)
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: line\ndata: {"n":${connections}`);
      setTimeout(() => res.end('}\n\n: ping\n\n'), 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

  test('readSse delivers the events, sends the headers given, and resolves when the stream ends', async () => {
    const got: Ev[] = [];
    await sse.readSse(`${base}/auth`, { headers: { authorization: 'Bearer t0k' }, signal: new AbortController().signal, onEvent: (e: Ev) => got.push(e) });
    assert.deepEqual(got.map((e) => e.data), ['Bearer t0k']);
  });

  test('readSse rejects with the API error of a refused request', async () => {
    await assert.rejects(sse.readSse(`${base}/401`, { signal: new AbortController().signal, onEvent: () => {} }), (e: { status: number; code: string; describe(): string }) => {
      assert.ok(e instanceof api.ApiError);
      assert.equal(e.status, 401);
      assert.equal(e.describe(), 'TEN_ERR_API_UNAUTHORIZED: missing or invalid API token — pass --token');
      return true;
    });
  });

  test('follow reconnects after the server ends a stream, and stops on 401 and 404', async () => {
    const got: number[] = [];
    const states: string[] = [];
    await new Promise<void>((resolve) => {
      const f = sse.follow(() => `${base}/stream`, {
        headers: () => ({}),
        onEvent: (e: Ev) => { got.push(JSON.parse(e.data).n); if (got.length === 2) { f.stop(); resolve(); } },
        onState: (s: string) => states.push(s),
      });
    });
    assert.deepEqual(got, [got[0], got[0] + 1], 'one event per connection, the second after a reconnect');
    assert.deepEqual(states.slice(0, 3), ['live', 'reconnecting', 'live']);

    for (const [path, key] of [['/401', 'onUnauthorized'], ['/404', 'onRefused']] as const) {
      const calls: string[] = [];
      await new Promise<void>((resolve) => {
        sse.follow(() => `${base}${path}`, {
          headers: () => ({}), onEvent: () => {},
          onUnauthorized: () => { calls.push('onUnauthorized'); resolve(); },
          onRefused: () => { calls.push('onRefused'); resolve(); },
        });
      });
      await new Promise((r) => setTimeout(r, 1200)); // longer than the first backoff: no retry came
      assert.deepEqual(calls, [key], path);
    }
  });
});
