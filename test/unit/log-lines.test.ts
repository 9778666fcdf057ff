// LineSplitter: lines at LF (CRLF too), long lines cut on UTF-8 boundaries with nothing lost,
// binary output made safe, and a full sink counted instead of decoded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LineSplitter, type LineSink } from '../../core/log-lines.ts';

function collect(max: number, full = () => false) {
  const lines: string[] = [];
  let dropped = 0;
  const sink: LineSink = { line: (t) => { lines.push(t); }, full, dropped: (n) => { dropped += n; } };
  return { s: new LineSplitter(max, sink), lines, dropped: () => dropped };
}

describe('LineSplitter', () => {
  test('lines end at LF, a CR before it is dropped, chunks split anywhere', () => {
    const c = collect(1024);
    for (const piece of ['hel', 'lo\r', '\nwor', 'ld\n\n', 'tail']) c.s.push(Buffer.from(piece));
    assert.deepEqual(c.lines, ['hello', 'world', '']);
    c.s.end();
    assert.deepEqual(c.lines, ['hello', 'world', '', 'tail'], 'a last line without LF is still a line');
  });

  test('a line longer than the limit is split into pieces of at most the limit, never inside a character', () => {
    const c = collect(100);
    const text = 'é'.repeat(333) + 'x'; // 667 bytes, 2-byte characters
    c.s.push(Buffer.from(`${text}\nnext\n`));
    assert.ok(c.lines.length >= 7, `pieces: ${c.lines.length}`);
    for (const l of c.lines) assert.ok(Buffer.byteLength(l) <= 100, `piece of ${Buffer.byteLength(l)} bytes`);
    assert.ok(!c.lines.join('').includes('\uFFFD'), 'no character was cut in two');
    assert.equal(c.lines.slice(0, -1).join(''), text, 'nothing lost');
    assert.equal(c.lines.at(-1), 'next');
  });

  test('the same cut when the long line arrives one byte at a time', () => {
    const c = collect(64);
    const text = '€'.repeat(100); // 3-byte characters
    for (const b of Buffer.from(`${text}\n`)) c.s.push(Buffer.from([b]));
    assert.equal(c.lines.join(''), text);
    for (const l of c.lines) assert.ok(Buffer.byteLength(l) <= 64);
  });

  test('binary output: invalid UTF-8 and NUL become U+FFFD; nothing throws', () => {
    const c = collect(16384);
    c.s.push(Buffer.from([0x00, 0xff, 0xfe, 0x41, 0x0a, 0xc3, 0x28, 0x0a]));
    assert.deepEqual(c.lines, ['\uFFFD\uFFFD\uFFFDA', '\uFFFD(']);
  });

  test('while the sink is full, chunks are dropped up to their last line end and counted in bytes', () => {
    let full = true;
    const c = collect(1024, () => full);
    c.s.push(Buffer.from('a\nb\nc\npartial'));
    assert.equal(c.dropped(), 13, 'a, b, c with their LFs, and the partial line');
    assert.deepEqual(c.lines, []);
    full = false;
    c.s.push(Buffer.from(' rest\nkept\n'));
    assert.deepEqual(c.lines, ['kept'], 'the rest of a line begun while full is dropped with it');
    assert.equal(c.dropped(), 19, 'and counted');
  });
});
