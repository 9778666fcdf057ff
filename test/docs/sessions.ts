// Docs that run (issue 13), part 1: what a page's shell sessions are, and when an output matches.
// A session is a ```console block: `$ command` lines, each followed by what it printed. A block
// may be preceded by a header, an HTML comment that says how to run it (keys: test/docs/runner.ts):
//   <!-- docs-run: config=guide fresh setup="ten spawn api:blue" dir=/srv/app -->
//   <!-- docs-run: skip — needs systemd as PID 1 -->
// and a ```toml block preceded by `<!-- docs-run: name=NAME -->` is a config later blocks name.

/** One `$ command` and the lines printed under it; `line` is its line in the file (1-based). */
export interface Step { command: string; expected: string; line: number }

/** How a block runs: every key of its header comment (values unquoted), `skip` the reason. */
export type Header = Record<string, string>;

/** One ```console block: where it starts (the fence's line), its header and its steps. */
export interface Block { line: number; header: Header; steps: Step[] }

/** A page: its console blocks in order, and its named ```toml blocks (name → text). */
export interface Page { blocks: Block[]; configs: Record<string, string> }

/** The keys of a header comment's body: `skip — reason` (or `skip: reason`) gives `skip`; else
 *  words `key=value`, `key="value with blanks"` (in which `\"` and `\\` stand for " and \; other
 *  backslashes stay, as a regular expression needs them) or a bare `key` (value ''). */
export function parseHeader(body: string): Header {
  const skip = /^skip\s*(?:—|-|:)\s*(.+)$/s.exec(body.trim());
  if (skip) return { skip: skip[1]!.replace(/\s+/g, ' ').trim() };
  const header: Header = {};
  for (const m of body.matchAll(/([\w-]+)(?:=(?:"((?:[^"\\]|\\.)*)"|(\S+)))?/g)) {
    header[m[1]!] = m[2] !== undefined ? m[2].replace(/\\(["\\])/g, '$1') : (m[3] ?? '');
  }
  return header;
}

/** The console blocks and named toml blocks of `markdown`. A header is the docs-run comment on
 *  the last non-blank line(s) before the fence; it may span lines. */
export function parsePage(markdown: string): Page {
  const lines = markdown.split('\n');
  const page: Page = { blocks: [], configs: {} };
  let pending: Header | null = null;
  let fence: { kind: string; header: Header | null; line: number; text: string[] } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    if (fence) {
      if (/^```\s*$/.test(text)) {
        if (fence.kind === 'console') page.blocks.push({ line: fence.line, header: fence.header ?? {}, steps: steps(fence.text, fence.line) });
        else if (fence.kind === 'toml' && fence.header?.name) page.configs[fence.header.name] = `${fence.text.join('\n')}\n`;
        fence = null;
      } else fence.text.push(text);
      continue;
    }
    const open = /^```(\w*)/.exec(text);
    if (open) {
      fence = { kind: open[1]!, header: pending, line: i + 1, text: [] };
      pending = null;
      continue;
    }
    const start = text.indexOf('<!-- docs-run:');
    if (start >= 0) {
      let body = text.slice(start + '<!-- docs-run:'.length);
      while (!body.includes('-->') && i + 1 < lines.length) body += `\n${lines[++i]}`;
      pending = parseHeader(body.slice(0, body.indexOf('-->')));
    } else if (text.trim() !== '') pending = null;
  }
  return page;
}

/** The steps of a block's lines; text before the first `$` line is an error (no command). */
function steps(lines: string[], fenceLine: number): Step[] {
  const out: Step[] = [];
  lines.forEach((text, i) => {
    if (text.startsWith('$ ')) out.push({ command: text.slice(2), expected: '', line: fenceLine + i + 1 });
    else if (out.length > 0) out[out.length - 1]!.expected += `${text}\n`;
  });
  // a command continued with a trailing backslash takes its next lines
  for (const s of out) {
    while (s.command.endsWith('\\')) {
      const nl = s.expected.indexOf('\n');
      if (nl < 0) break;
      s.command = `${s.command.slice(0, -1)}${s.expected.slice(0, nl).trim() === '' ? '' : ` ${s.expected.slice(0, nl).trim()}`}`;
      s.expected = s.expected.slice(nl + 1);
    }
  }
  return out;
}

/** What else varies in a block's output (its header's `numbers` and `mask`). */
export interface MaskOptions {
  numbers?: boolean;
  mask?: RegExp;
  /** Lines compared in any order: output of concurrent sources (an app's stdout beside the
   *  supervisor's events of the same moment). */
  unordered?: boolean;
}

/** `text` with what differs between runs replaced: tokens and hex ids, dates, times, durations,
 *  pids (`pid N`, `"pid": N`, `ten ps`'s PID column), numbers of 4 or more digits (ports, byte
 *  counts), runs of blanks (table columns are sized to their cells), trailing blanks and blank
 *  ends. With `numbers`, every number (counts of a load that varies). */
export function masked(text: string, opts: MaskOptions = {}): string {
  let t = (opts.mask ? text.replace(opts.mask, 'X') : text)
    .replace(/\b[0-9a-f]{12}\.[0-9a-f]{64}\b/g, 'TOKEN')
    .replace(/\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{10,}\b/g, 'HEX')
    .replace(/("(?:app_)?pid":\s*|\(pid |pid:? |\b(?:running|starting|stopped|unhealthy|stopping|idle)\s+)\d+/g, '$1N')
    .replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?Z?/g, 'TIME')
    // an HTTP-date (RFC 9110 §5.6.7): `Sat, 21 Nov 2026 23:54:34 GMT`
    .replace(/\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\b/g, 'TIME')
    .replace(/\d{4}-\d\d-\d\d/g, 'DATE')
    .replace(/\b\d\d:\d\d:\d\d\b/g, 'TIME')
    .replace(/\b\d+(\.\d+)?(ms|s|m|h|d)\b/g, 'DUR')
    .replace(/\b\d+(m\d+s|s)\b/g, 'DUR')
    .replace(/\d{4,}/g, 'N');
  if (opts.numbers) t = t.replace(/\d+(\.\d+)?/g, 'N');
  return t.split('\n').map((l) => l.replace(/[ \t]+/g, ' ').trimEnd()).join('\n').trim();
}

/** Whether `actual` shows what `expected` shows, both masked: an expected line that is only `…`
 *  (or `...`) stands for any lines, and `…` / `...` inside a line for any text. */
export function matches(expected: string, actual: string, opts: MaskOptions = {}): boolean {
  const e = masked(expected, opts);
  const a = masked(actual, opts);
  const sorted = (t: string) => t.split('\n').sort().join('\n');
  if (opts.unordered) return sorted(e) === sorted(a);
  if (!/…|\.\.\./.test(e)) return e === a;
  const source = e.split('\n').map((l) => (/^(…|\.\.\.)$/.test(l.trim())
    ? '(?:[^\\n]*(?:\\n|$))*?'
    : `${l.split(/…|\.\.\./).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^\\n]*')}(?:\\n|$)`)).join('');
  return new RegExp(`^${source}$`).test(a.endsWith('\n') ? a : `${a}\n`);
}
