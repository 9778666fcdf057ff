// `ten init`: a start command written for a shell (package.json's scripts.start, a Procfile's
// web: line) turned into what tenement runs without one. tenement splits `command` like a POSIX
// shell but never runs a shell (core/config.ts splitCommand, TEN_ERR_CONFIG_COMMAND), so a script
// is read with the same splitter (shell-quote) and sorted into one of three shapes.
import { parse as parseShell } from 'shell-quote';
import { shown } from './output.ts';

/** What a shell command line becomes:
 *  - `argv`: a plain command, run as is. Leading `NAME=value` words (POSIX.1-2017 XCU §2.9.1,
 *    variable assignments before a simple command) become `env`. `setup` holds the commands a
 *    `&&` / `;` list ran before its last one (`npm run build && node dist/main.js`): build steps
 *    to run once before `ten serve`, not at each start; a leading `cd DIR` becomes `workdir`.
 *  - `shell`: it needs a shell (pipes, redirections, `||`, `&`, subshells, globs, `$VAR`
 *    expansions, comments); `why` names the first such thing. The caller runs it through an
 *    explicit program that has one (`npm start`, `sh -c`), never through tenement.  */
export type SplitScript =
  | { kind: 'argv'; argv: string[]; env: Record<string, string>; setup: string[]; workdir?: string }
  | { kind: 'shell'; why: string };

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/** Sorts a shell command line (see SplitScript). An empty line is `shell` with why "empty". */
export function splitScript(line: string): SplitScript {
  const vars: string[] = [];
  const parts = parseShell(line, (name: string) => {
    vars.push(name);
    return `$${name}`;
  });
  if (vars.length > 0) return { kind: 'shell', why: `it expands $${vars[0]}` };
  const segments: string[][] = [[]];
  for (const part of parts) {
    if (typeof part === 'string') segments[segments.length - 1]!.push(part);
    else if ('comment' in part) return { kind: 'shell', why: 'it has a # comment' };
    else if (part.op === 'glob') return { kind: 'shell', why: `it has the glob ${part.pattern}` };
    else if (part.op === '&&' || part.op === ';') segments.push([]);
    else return { kind: 'shell', why: `it uses the shell operator ${part.op}` };
  }
  const words = segments.filter((s) => s.length > 0);
  if (words.length === 0) return { kind: 'shell', why: 'it is empty' };
  const last = words.pop()!;
  const env: Record<string, string> = {};
  while (last.length > 0 && ASSIGNMENT.test(last[0]!)) {
    const [, name, value] = ASSIGNMENT.exec(last.shift()!)!;
    env[name!] = value!;
  }
  if (last.length === 0) return { kind: 'shell', why: 'its last command only sets variables' };
  let workdir: string | undefined;
  if (words[0]?.[0] === 'cd' && words[0].length === 2) workdir = words.shift()![1];
  if (words.some((w) => w[0] === 'cd')) return { kind: 'shell', why: 'it changes directory (cd) after other commands' };
  return { kind: 'argv', argv: last, env, setup: words.map(shown), ...(workdir === undefined ? {} : { workdir }) };
}
