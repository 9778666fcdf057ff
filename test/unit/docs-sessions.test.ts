// The docs runner's matcher and header parser (test/docs/sessions.ts): what it masks, and that it
// still tells a wrong output from a right one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matches, parseHeader, parsePage } from '../docs/sessions.ts';

test('pids, ports, times, HTTP-dates and durations are masked; words and small numbers are not', () => {
  assert.ok(matches('api:v2 running on 127.0.0.1:44329 (pid 21906)\n', 'api:v2 running on 127.0.0.1:37011 (pid 1234)\n'));
  assert.ok(matches('date: Sat, 21 Nov 2026 23:54:34 GMT\n', 'date: Mon, 30 Nov 2026 09:17:10 GMT\n'));
  assert.ok(matches('[23:50:22] deploy of api:v2 succeeded in 0.1s\n', '[09:01:02] deploy of api:v2 succeeded in 2.5s\n'));
  assert.ok(!matches('api:v2 weight 5\n', 'api:v2 weight 6\n'));
  assert.ok(!matches('api:v2 running\n', 'api:v3 running\n'));
  assert.ok(!matches('exit code 0\n', 'exit code 1\n'));
});

test('numbers, mask and unordered loosen only what the header says', () => {
  assert.ok(matches('    184 api:blue\n     16 api:v2\n', '    189 api:blue\n     11 api:v2\n', { numbers: true }));
  assert.ok(!matches('    184 api:blue\n', '    189 api:v2\n', { numbers: true }));
  const mask = /[-+][\d.]+ms \(shadow \w+\)/g;
  assert.ok(matches('difference +0.3ms (shadow slower)\n', 'difference -1.7ms (shadow faster)\n', { mask }));
  assert.ok(!matches('mirrored 100\n', 'mirrored 99\n', { mask }));
  assert.ok(matches('a\nb\n', 'b\na\n', { unordered: true }));
  assert.ok(!matches('a\nb\n', 'b\na\n'));
  assert.ok(!matches('a\nb\n', 'b\nc\n', { unordered: true }));
});

test('… stands for any text in a line, or any lines on its own', () => {
  assert.ok(matches('config /srv/app/tenement.toml\n…\n', 'config /srv/app/tenement.toml\nlisten 127.0.0.1:8080\ndomain localhost\n'));
  assert.ok(matches('error TEN_ERR_X: … (line 3)\n', 'error TEN_ERR_X: bad value (line 3)\n'));
  assert.ok(!matches('error TEN_ERR_X: … (line 3)\n', 'error TEN_ERR_Y: bad value (line 3)\n'));
});

test('headers: keys, quoted values with \\" and \\\\, other backslashes kept; skip with its reason', () => {
  assert.deepEqual(parseHeader(' fresh numbers=seq setup="echo \\"a b\\"" mask="\\d+ mirrored" '),
    { fresh: '', numbers: 'seq', setup: 'echo "a b"', mask: '\\d+ mirrored' });
  assert.deepEqual(parseHeader(' skip — needs systemd as PID 1 '), { skip: 'needs systemd as PID 1' });
  const page = parsePage('<!-- docs-run: name=guide -->\n```toml\nport = 1\n```\n\n<!-- docs-run: config=guide -->\n```console\n$ ten ps\nNAME\n$ ten version\n```\n');
  assert.equal(page.configs.guide, 'port = 1\n');
  assert.deepEqual(page.blocks.map((b) => [b.header, b.steps.map((s) => [s.command, s.expected])]),
    [[{ config: 'guide' }, [['ten ps', 'NAME\n'], ['ten version', '']]]]);
});
