// What `ten help`, `ten --help` and `ten <command> --help` print, the reference part of
// docs/cli.md (scripts/cli-reference.ts) and the shell completions (completion.ts) all come from
// here: one model of the commands, read from clipanion's definitions, so none of them can drift
// from what the parser accepts.
import type { Definition } from 'clipanion';
import { closest } from '../core/suggest.ts';

/** One option of a command, as help shows it. */
export interface OptionModel {
  /** Every name, long last: ['-n', '--lines']. */
  names: string[];
  /** The long name, or the only one. */
  name: string;
  /** Placeholder of its value (`PATH`, `DURATION`), or undefined for a flag. */
  value?: string;
  /** `--no-wait` for a flag that is on unless turned off (NEGATED_OPTIONS): the form users type. */
  negation?: string;
  /** How help writes it: `--config PATH`, `-n, --lines N`, `--no-wait`. */
  label: string;
  description: string;
  required: boolean;
  /** One of COMMON_OPTIONS: listed once, under "Common options". */
  common: boolean;
}

/** One command (`ten rollout status` is one), as help shows it. */
export interface CommandModel {
  /** Words after `ten`: ['rollout', 'status']. */
  path: string[];
  category: string;
  description: string;
  /** Positional arguments as clipanion writes them: `<service[:id]>`, `[service]`, `<cmd> ...`. */
  positionals: string[];
  /** Paragraphs of the details, each on one line. */
  details: string[];
  examples: Array<{ description: string; command: string }>;
  options: OptionModel[];
}

/** Options every command (or every client command) has: shown once, after a command's own. */
export const COMMON_OPTIONS = new Set(['--config', '--debug', '--server', '--token', '--connect-timeout', '--request-timeout']);

/** Placeholders of option values, where the option's name does not say it well (else: its name
 *  in capitals, `--tenant` → TENANT). Never clipanion's `#0`. */
const VALUE_NAMES: Record<string, string> = {
  '--config': 'PATH', '--server': 'URL', '--connect-timeout': 'DURATION', '--request-timeout': 'DURATION',
  '--timeout': 'DURATION', '--interval': 'DURATION', '--max-p99': 'DURATION', '--expires': 'DURATION',
  '--since': 'TIME', '--until': 'TIME', '--grep': 'TEXT', '--lines': 'N', '--limit': 'N', '--batch': 'N',
  '--weight': 'N', '--port': 'N', '--percent': 'N', '--max-error-rate': 'RATE', '--from': 'VERSION', '--to': 'VERSION',
  '--output': 'FILE', '--caddyfile': 'PATH', '--unit-dir': 'DIR', '--caddy-dns': 'PROVIDER', '--image-template': 'TEMPLATE',
  '--gateway': 'NAME', '--gateway-namespace': 'NAMESPACE', '--container-port': 'N', '--description': 'TEXT',
};

/** Boolean options that are on unless turned off: help writes them as `--no-NAME`, the form a user
 *  types (clipanion accepts `--no-` before any boolean option's name). */
const NEGATED_OPTIONS = new Set(['--wait']);

/** Commands in the order `ten help` lists their categories. */
const CATEGORY_ORDER = ['Server', 'Instances', 'Deploying', 'Access', 'Moving on', 'Shell'];

/** The commands of `cli`, in registration order, without clipanion's built-ins. */
export function commandModels(cli: { definitions(): Definition[] }): CommandModel[] {
  return cli.definitions()
    .filter((d) => d.description && d.path !== 'ten' && !d.path.startsWith('ten -'))
    .map((d) => {
      const path = d.path.split(' ').slice(1);
      return {
        path,
        category: d.category?.trim() || 'Other',
        description: d.description!.trim().replace(/\s+/g, ' '),
        positionals: d.usage.split(' ').slice(1 + path.length).join(' ').replace(/ \[-[^\]]*\]/g, '').trim().split(/ (?=[<[])/).filter(Boolean),
        details: paragraphs(d.details ?? ''),
        examples: (d.examples ?? []).map(([description, command]) => ({ description: description.trim(), command: command.trim() })),
        options: d.options.map((o) => optionModel(o.definition, o.description ?? '', o.required)),
      };
    });
}

function optionModel(definition: string, description: string, required: boolean): OptionModel {
  const [namesPart, arity] = definition.split(' ');
  // long names last: `-n, --lines`
  const names = namesPart.split(',').sort((a, b) => Number(a.startsWith('--')) - Number(b.startsWith('--')));
  const name = names.at(-1)!;
  const value = arity === undefined ? undefined : VALUE_NAMES[name] ?? name.replace(/^-+/, '').replace(/-/g, '_').toUpperCase();
  const negation = NEGATED_OPTIONS.has(name) ? `--no-${name.slice(2)}` : undefined;
  const shown = negation ? [negation] : names;
  return { names, name, value, negation, label: shown.join(', ') + (value ? ` ${value}` : ''), description: description.trim().replace(/\s+/g, ' '), required, common: COMMON_OPTIONS.has(name) };
}

/** clipanion's details text (wrapped at 80 columns) as paragraphs, each on one line. */
function paragraphs(text: string): string[] {
  return text.split(/\n\s*\n/).map((p) => p.split('\n').map((l) => l.trim()).filter(Boolean).join(' ')).filter(Boolean);
}

/** `ten spawn <service[:id]> [--id ID] [--weight N] [--no-wait] [--json]`: its own options only,
 *  the required ones first. */
export function synopsis(c: CommandModel): string {
  return synopsisParts(c).join(' ');
}

/** The synopsis in parts that are never split across lines: `ten spawn`, `<service[:id]>`, `[--id ID]`. */
export function synopsisParts(c: CommandModel): string[] {
  const own = c.options.filter((o) => !o.common);
  const long = (o: OptionModel) => o.label.split(', ').at(-1)!;
  return [['ten', ...c.path].join(' '), ...c.positionals, ...own.filter((o) => o.required).map(long), ...own.filter((o) => !o.required).map((o) => `[${long(o)}]`)];
}

/** Words (of `text`, or the given parts) wrapped into lines of at most `width` characters (a longer
 *  word has a line of its own), each line after the first indented by `indent` spaces. */
export function wrap(text: string | string[], width: number, indent = 0): string {
  const lines: string[] = [];
  let line = '';
  for (const word of typeof text === 'string' ? text.split(' ') : text) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

function optionRows(options: OptionModel[]): string {
  const w = Math.max(...options.map((o) => o.label.length)) + 2;
  // a long label pushes its description to the next line rather than squeezing it
  const col = Math.min(w, 30);
  return options.map((o) => (o.label.length + 2 > col ? `  ${o.label}\n${' '.repeat(2 + col)}` : `  ${o.label.padEnd(col)}`)
    + wrap(o.description, 78 - col, 2 + col)).join('\n');
}

/** `ten help COMMAND` and `ten COMMAND --help`. */
export function commandHelp(c: CommandModel): string {
  const own = c.options.filter((o) => !o.common);
  const common = c.options.filter((o) => o.common);
  const out = [wrap(`ten ${c.path.join(' ')}: ${c.description}`, 80, 2), '', 'Usage', `  ${wrap(synopsisParts(c), 76, 4)}`];
  for (const p of c.details) out.push('', wrap(p, 80));
  if (own.length) out.push('', 'Options', optionRows(own));
  if (common.length) out.push('', 'Common options', optionRows(common));
  if (c.examples.length) {
    out.push('', 'Examples');
    for (const e of c.examples) out.push(`  ${e.description}`, `    $ ${e.command}`);
  }
  return `${out.join('\n')}\n`;
}

/** `ten help`, `ten --help`, `ten` alone: every command by category, one line each. */
export function indexHelp(commands: CommandModel[], version: string): string {
  const out = [
    `ten ${version}: tenement's CLI. Supervises app instances on one server and routes HTTP to them.`,
    '', 'Usage', '  ten <command> [options]', '  ten help <command>       what one command takes, with examples',
  ];
  const heads = commands.map((c) => [c.path.join(' '), ...c.positionals].join(' '));
  const w = Math.max(...heads.map((h) => h.length)) + 2;
  const categories = [...new Set(commands.map((c) => c.category))]
    .sort((a, b) => (CATEGORY_ORDER.indexOf(a) + 1 || 99) - (CATEGORY_ORDER.indexOf(b) + 1 || 99));
  for (const cat of categories) {
    out.push('', cat);
    commands.forEach((c, i) => { if (c.category === cat) out.push(`  ${heads[i].padEnd(w)}${wrap(c.description, 78 - w, 2 + w)}`); });
  }
  out.push('', 'Common options: --config PATH, --debug; for commands that talk to ten serve also --server URL,',
    '--token TOKEN, --connect-timeout DURATION, --request-timeout DURATION (`ten help <command>`).',
    'Docs: docs/cli.md. Completion: `ten completion bash|zsh|fish`.');
  return `${out.join('\n')}\n`;
}

/** The command whose path `words` starts with, the longest (`rollout status api` → rollout status). */
export function findCommand(commands: CommandModel[], words: readonly string[]): CommandModel | undefined {
  return commands
    .filter((c) => c.path.every((w, i) => words[i] === w))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

/** What people type for a command tenement names otherwise. */
const SYNONYMS: Record<string, string[]> = {
  stat: ['top', 'ps'], stats: ['top'], status: ['ps', 'rollout status'], list: ['ps'], ls: ['ps'],
  start: ['spawn'], run: ['spawn', 'serve'], create: ['spawn'], kill: ['stop'], rm: ['stop'], delete: ['stop'],
  scale: ['weight'], log: ['logs'], tail: ['logs -f'], check: ['health', 'config', 'doctor'], validate: ['config'],
  canary: ['rollout'], mirror: ['shadow'], upgrade: ['deploy'], rollback: ['rollout abort', 'route'],
};

/** `ten spawn`, `ten top or ten ps`: what an unknown command word probably meant, or undefined. */
export function suggestCommand(commands: CommandModel[], word: string): string | undefined {
  const words = [...new Set(commands.map((c) => c.path[0]))];
  const known = new Set(commands.map((c) => c.path.join(' ')));
  const meant = (SYNONYMS[word.toLowerCase()] ?? []).filter((s) => known.has(s.split(' -')[0]));
  const typo = closest(word, words, 2, true);
  // a group word (`export`) is suggested with its commands: `ten export kubernetes`
  const expand = (g: string) => (commands.some((c) => c.path.join(' ') === g.split(' -')[0]) ? [g] : subcommands(commands, g).map((c) => c.path.join(' ')));
  const guesses = (meant.length ? meant : typo ? [typo] : []).flatMap(expand);
  return guesses.length ? guesses.map((g) => `\`ten ${g}\``).join(' or ') : undefined;
}

/** `--json`: the option of `c` an unknown `--jsn` probably meant, or undefined. */
export function suggestOption(c: CommandModel, typed: string): string | undefined {
  const names = c.options.flatMap((o) => (o.negation ? [o.negation, o.name] : o.names));
  return closest(typed, names, 2, true);
}

/** The commands of two words whose first is `word` (`token` → token create, token list, token revoke). */
export function subcommands(commands: CommandModel[], word: string): CommandModel[] {
  return commands.filter((c) => c.path.length > 1 && c.path[0] === word);
}

/** `\`ten rollout abort\``: the command of group `group` whose second word `typed` probably meant. */
export function suggestSubcommand(commands: CommandModel[], group: string, typed: string): string | undefined {
  const subs = subcommands(commands, group).map((c) => c.path[1]!);
  // a unique prefix (`kube`), else the closest name (`abortt`)
  const starting = subs.filter((s) => s.startsWith(typed.toLowerCase()));
  const sub = starting.length === 1 ? starting[0] : closest(typed, subs, 2, true);
  return sub === undefined ? undefined : `\`ten ${group} ${sub}\``;
}
