// clipanion treats every argument starting with "-" as an option, so `ten weight api:v1 -1` would
// die with a generic "Invalid option name" instead of reaching parseWeight. normalizeArgv rewrites
// negative numbers so they arrive as values and the real validators can reject them properly.

import type { CommandModel } from './help.ts';

/** Every name (short and long) of every option that takes a value, from the command model, so a
 *  new option is covered without a list kept by hand: `--weight -1` becomes `--weight=-1`. */
export function valueOptions(commands: readonly CommandModel[]): Set<string> {
  return new Set(commands.flatMap((c) => c.options.filter((o) => o.value !== undefined).flatMap((o) => o.names)));
}

/** A token that is a negative number (`-1`, `-.5`), not an option. */
export const NEGATIVE_NUMBER = /^-\.?\d/;
/** Options whose value may be anything, even text starting with "-" (a token someone chose). */
const ANY_VALUE_OPTIONS = new Set(['--token']);

/** argv with each negative number made a value (`--lines=-5`) or moved after `--` (a positional),
 *  so it reaches the command's validator; `values` is
 *  what valueOptions() returns. */
export function normalizeArgv(given: readonly string[], values: ReadonlySet<string>): string[] {
  // bundled short options (`-fn 3`) one by one, so that the one taking a value gets it (clipanion
  // reads a bundle as flags only: `-n true`)
  const end = given.includes('--') ? given.indexOf('--') : given.length;
  const argv = [...given.slice(0, end).flatMap((t, i) => (/^-[A-Za-z]{2,}$/.test(t) && !values.has(given[i - 1] ?? '') ? [...t.slice(1)].map((l) => `-${l}`) : [t])), ...given.slice(end)];
  const head: string[] = [];
  // the last token of h is itself the value of a value option (`--id --server`)
  const isValueOf = (h: string[]): boolean => h.length >= 2 && values.has(h[h.length - 2]!);
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
    if (prev !== undefined && values.has(prev) && !isValueOf(head)) {
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
        if (values.has(t) && j + 1 < argv.length) head.push(argv[++j]!);
      } else {
        tail.push(t);
      }
    }
    return [...head, '--', ...tail];
  }
  return head;
}
