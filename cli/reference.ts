// The reference part of docs/cli.md, from the same command model as `ten help` (help.ts): the
// synopsis of every command at the top, and under each `### \`ten X\`` heading the usage, options
// and examples of the commands whose first word is X. Each generated part sits between
// `<!-- generated … -->` and `<!-- /generated -->`; the prose around them is written by hand.
// `npm run docs:cli` rewrites them; test/unit/cli-reference.test.ts fails when they differ.
import { synopsisParts, wrap, type CommandModel } from './help.ts';

const OPEN = (what: string) => `<!-- generated: ${what} (npm run docs:cli; do not edit) -->`;
const CLOSE = '<!-- /generated -->';

/** A table cell: pipes escaped, on one line. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ');

/** The synopsis block: one line per command, its own options (the common ones are said below it). */
function synopses(commands: CommandModel[]): string {
  return ['```', ...commands.map((c) => wrap(synopsisParts(c), 100, 4)), '```', '',
    'Every command also takes `--config PATH` and `--debug`; those that talk to ten serve also `--server URL`,',
    '`--token TOKEN`, `--connect-timeout DURATION` and `--request-timeout DURATION`',
    '([below](#names-weights-and-options)). `ten help COMMAND` (or `ten COMMAND --help`) prints the same',
    'reference in the terminal.'].join('\n');
}

/** Usage, options and examples of one command. */
function reference(c: CommandModel): string {
  const own = c.options.filter((o) => !o.common);
  const out = ['```', wrap(synopsisParts(c), 100, 4), '```'];
  if (own.length) {
    out.push('', '| option | |', '|---|---|', ...own.map((o) => `| \`${o.label}\`${o.required ? ' (required)' : ''} | ${cell(o.description)} |`));
  }
  if (c.examples.length) {
    out.push('', 'Examples:', '', ...c.examples.map((e) => `- ${cell(e.description)}: \`${e.command}\``));
  }
  return out.join('\n');
}

/** The commands a `### \`ten X\`` heading is about: those whose first word is X, or, for a heading of
 *  two words (`ten export kubernetes`), that one. */
function sectionCommands(commands: CommandModel[], heading: string): CommandModel[] {
  const words = heading.split(' ').slice(1);
  return commands.filter((c) => words.every((w, i) => c.path[i] === w));
}

/**
 * docs/cli.md with every generated part written anew from `commands`. The first run turns the
 * plain ``` block right under the synopsis marker or a command's heading into a generated part.
 * Throws when a command has no section (a heading `### \`ten X\``), so none is left undocumented.
 */
export function renderReference(markdown: string, commands: CommandModel[]): string {
  const lines = markdown.split('\n');
  const out: string[] = [];
  const covered = new Set<CommandModel>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    out.push(line);
    const heading = /^### `(ten [a-z -]+)`/.exec(line)?.[1];
    const what = heading ?? (line === '<!-- synopsis -->' ? 'synopsis' : undefined);
    if (what === undefined) continue;
    const part = what === 'synopsis' ? synopses(commands) : sectionCommands(commands, what).map((c) => (covered.add(c), reference(c))).join('\n\n');
    if (part === '') continue;
    // skip blank lines, then an existing generated part or the first plain ``` block
    let j = i + 1;
    while (lines[j] === '') j++;
    let end = -1;
    if (lines[j]?.startsWith('<!-- generated:')) end = lines.indexOf(CLOSE, j);
    else if (lines[j] === '```') end = lines.indexOf('```', j + 1);
    if (end === -1) { out.push('', OPEN(what), part, CLOSE); continue; }
    out.push('', OPEN(what), part, CLOSE);
    i = end;
  }
  const missing = commands.filter((c) => !covered.has(c)).map((c) => `ten ${c.path.join(' ')}`);
  if (missing.length) throw new Error(`docs/cli.md has no section (### \`ten …\`) for ${missing.join(', ')}`);
  return out.join('\n');
}
