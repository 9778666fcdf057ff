// clipanion treats every argument starting with "-" as an option, so `ten weight api:v1 -1` would
// die with a generic "Invalid option name" instead of reaching parseWeight. normalizeArgv rewrites
// negative numbers so they arrive as values and the real validators can reject them properly.

/** Options that take a value: `--weight -1` becomes `--weight=-1`. */
const VALUE_OPTIONS = new Set(['--server', '--token', '--config', '--id', '--weight', '--port', '--domain',
  '--version', '--timeout', '--batch', '--steps', '--interval', '--max-error-rate', '--max-p99', '--percent', '--limit',
  '--from', '--to', '--strategy']);
const NEGATIVE_NUMBER = /^-\.?\d/;
/** Options whose value may be anything, even text starting with "-" (a token someone chose). */
const ANY_VALUE_OPTIONS = new Set(['--token']);

export function normalizeArgv(argv: readonly string[]): string[] {
  const head: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') return [...head, ...argv.slice(i)];
    const before = head[head.length - 1];
    if (before !== undefined && ANY_VALUE_OPTIONS.has(before) && tok.startsWith('-') && !isValueOf(head)) {
      head[head.length - 1] = `${before}=${tok}`;
      continue;
    }
    if (!NEGATIVE_NUMBER.test(tok)) {
      head.push(tok);
      continue;
    }
    const prev = head[head.length - 1];
    if (prev !== undefined && VALUE_OPTIONS.has(prev) && !isValueOf(head)) {
      head[head.length - 1] = `${prev}=${tok}`;
      continue;
    }
    // A positional negative number: it and every later positional go after `--` (keeping their
    // order); later options stay before it so clipanion still parses them.
    const tail: string[] = [];
    for (let j = i; j < argv.length; j++) {
      const t = argv[j]!;
      if (t === '--') {
        tail.push(...argv.slice(j + 1));
        break;
      }
      if (t.startsWith('-') && !NEGATIVE_NUMBER.test(t)) {
        head.push(t);
        if (VALUE_OPTIONS.has(t) && j + 1 < argv.length) head.push(argv[++j]!);
      } else {
        tail.push(t);
      }
    }
    return [...head, '--', ...tail];
  }
  return head;
}

/** True when the last token of head is itself the value of a value option (`--id --server`). */
function isValueOf(head: string[]): boolean {
  return head.length >= 2 && VALUE_OPTIONS.has(head[head.length - 2]!);
}
