// An app's output, cut into lines. Bytes arrive from a pipe in chunks of any size; lines end at
// LF (a CR before it is dropped). A line longer than `maxBytes` is cut into pieces of at most that
// many bytes, each cut on a UTF-8 character boundary, so nothing is lost and nothing grows without
// bound. Bytes that are not UTF-8 become U+FFFD, and so does NUL: binary output is stored as text
// that breaks nothing downstream (SQLite, the terminal, JSON).

const LF = 0x0a;
const CR = 0x0d;

/** Where a splitter sends its lines; `full()` says the sink keeps nothing more for now. */
export interface LineSink {
  /** One line; `at` is when its first byte arrived (ms since the epoch). */
  line(text: string, at: number): void;
  /** While true, the splitter drops whole chunks (up to their last line end) without looking
   *  at their lines: a flood costs a read and a subtraction, not a decode per line. */
  full(): boolean;
  /** `bytes` of output were not kept because the sink was full. */
  dropped(bytes: number): void;
}

/** Cuts one stream (stdout or stderr of one process) into lines. Holds at most `maxBytes` of a
 *  line that has not ended yet. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  /** The sink was full while the current partial line arrived: drop it whole. */
  private skipping = false;
  /** When the first byte of the held (unfinished) line arrived. */
  private since = 0;

  constructor(private readonly maxBytes: number, private readonly sink: LineSink) {}

  /** Feed a chunk of the stream. */
  push(chunk: Buffer): void {
    let from = 0;
    const now = Date.now();
    while (from < chunk.length) {
      if (this.sink.full()) {
        // a flood the store cannot keep: drop up to the chunk's last line end, decode nothing
        const last = chunk.lastIndexOf(LF);
        if (last < from) {
          this.sink.dropped(chunk.length - from + this.held);
          this.skip();
          return;
        }
        this.sink.dropped(last + 1 - from + this.held);
        this.reset();
        from = last + 1;
        continue;
      }
      const nl = chunk.indexOf(LF, from);
      if (this.skipping) { // the rest of a line whose start came while the sink was full
        this.sink.dropped((nl === -1 ? chunk.length : nl + 1) - from);
        if (nl === -1) return;
        this.reset();
        from = nl + 1;
        continue;
      }
      if (this.held === 0) this.since = now;
      this.hold(chunk.subarray(from, nl === -1 ? chunk.length : nl));
      if (nl === -1) return;
      this.emitHeld();
      from = nl + 1;
    }
  }

  /** The stream ended: a last line without LF is still a line. */
  end(): void {
    if (this.held > 0 && !this.skipping) this.emitHeld();
    this.reset();
  }

  /** Add bytes of the current line; emit full pieces as soon as there are `maxBytes`. */
  private hold(bytes: Buffer): void {
    let rest = bytes;
    while (this.held + rest.length > this.maxBytes) {
      // the byte after the cut is known now: cut where no character is split
      const all = Buffer.concat([...this.parts, rest], this.held + rest.length);
      const cut = boundary(all, this.maxBytes) || this.maxBytes; // never 0: a piece holds something
      this.parts = [all.subarray(0, cut)];
      this.held = cut;
      this.emitHeld(false);
      rest = all.subarray(cut);
    }
    if (rest.length > 0) {
      this.parts.push(Buffer.from(rest)); // a copy: the chunk's memory is the stream's
      this.held += rest.length;
    }
  }

  private emitHeld(lineEnd = true): void {
    let bytes = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.held);
    if (lineEnd && bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, -1);
    const at = this.since;
    this.reset();
    this.sink.line(decode(bytes), at);
    this.since = Date.now(); // a piece of a long line: the next piece starts now
  }

  private skip(): void {
    this.parts = [];
    this.held = 0;
    this.skipping = true;
  }

  private reset(): void {
    this.parts = [];
    this.held = 0;
    this.skipping = false;
  }
}

/** The largest cut ≤ `max` that does not split a UTF-8 sequence (continuation bytes are 10xxxxxx). */
function boundary(b: Buffer, max: number): number {
  let at = Math.min(max, b.length);
  if (at === b.length) return at;
  let back = 0;
  while (at > 0 && back < 3 && (b[at] & 0xc0) === 0x80) { at--; back++; }
  return at;
}

/** UTF-8 text of `bytes`: invalid sequences and NUL become U+FFFD. */
export function decode(bytes: Buffer): string {
  const s = bytes.toString('utf8');
  return s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s;
}
