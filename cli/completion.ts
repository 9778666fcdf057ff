// Shell completion scripts for bash, zsh and fish, generated from the same command model as help
// (help.ts), so a new command or option completes without anyone editing a script. Instance names
// come from the running ten serve through `ten completion --instances` (short timeouts; nothing
// when it is not reachable).
import type { CommandModel } from './help.ts';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** What a command's first positional argument completes to. */
type Kind = 'instance' | 'file' | 'command' | 'shell' | 'none';

function positionalKind(c: CommandModel): Kind {
  const p = c.positionals[0] ?? '';
  if (p === '[command]') return 'command';
  if (p === '[shell]') return 'shell';
  if (/service/.test(p)) return 'instance';
  if (/PATH|BACKUP|FILE/.test(p)) return 'file';
  return 'none';
}

/** The names an option may be typed as: every name (`-o`, `--output`), and `--no-wait` for a
 *  negated flag (as help shows it). */
function optionWords(c: CommandModel): string[] {
  return c.options.flatMap((o) => (o.negation ? [o.negation, ...o.names] : o.names));
}

const FILE_VALUES = new Set(['PATH', 'FILE', 'DIR']);
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The completion logic bash and zsh share (zsh runs it under ksh emulation): from COMP_WORDS and
 *  COMP_CWORD (bash's names), the candidate words in `reply`, and `_ten_want_files=1` when a file
 *  name is wanted. The command table is a `case`. */
function body(commands: CommandModel[]): string {
  const first = [...new Set(commands.map((c) => c.path[0]!))];
  const subs = new Map<string, string[]>();
  for (const c of commands) if (c.path.length > 1) subs.set(c.path[0]!, [...(subs.get(c.path[0]!) ?? []), c.path[1]!]);
  const cases = commands.map((c) => {
    const values = c.options.filter((o) => o.value).flatMap((o) => o.names);
    const files = c.options.filter((o) => o.value && FILE_VALUES.has(o.value)).flatMap((o) => o.names);
    return `    ${quote(c.path.join(' '))}) opts=${quote(optionWords(c).join(' '))}; values=${quote(values.join(' '))}; files=${quote(files.join(' '))}; kind=${positionalKind(c)} ;;`;
  });
  const valueOptions = [...new Set(commands.flatMap((c) => c.options.filter((o) => o.value).flatMap((o) => o.names)))];
  return `_ten_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" word i subs="" opts="" values="" files="" kind=none skip=0
  local -a typed=()
  reply=() _ten_want_files=0
  # the words typed before the current one that are not options or their values
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$word" in
      --*=*) ;;
      -*) [[ " $_ten_value_options " == *" $word "* ]] && skip=1 ;;
      *) typed+=("$word") ;;
    esac
  done
  ((COMP_CWORD > 1)) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if ((\${#typed[@]} == 0)); then
    if [[ "$cur" == -* ]]; then _ten_match "--help" "$cur"; else _ten_match ${quote(first.join(' '))} "$cur"; fi
    return
  fi
  local cmd="\${typed[0]}"  # not "path": zsh ties that name to PATH
  case "$cmd" in
${[...subs].map(([w, list]) => `    ${quote(w)}) subs=${quote(list.join(' '))} ;;`).join('\n')}
  esac
  # a command of two words (rollout status): the second word, or the choice of it
  if [[ -n "$subs" && " $subs " == *" \${typed[1]:-} "* ]]; then
    cmd="$cmd \${typed[1]}"
    typed=("\${typed[@]:1}")
  elif [[ -n "$subs" && \${#typed[@]} == 1 && "$cur" != -* ]]; then
    _ten_match "$subs" "$cur"
  fi
  case "$cmd" in
${cases.join('\n')}
    *) return ;;
  esac
  if [[ " $values " == *" $prev "* ]]; then
    [[ " $files " == *" $prev "* ]] && _ten_want_files=1
    return
  fi
  if [[ "$cur" == -* ]]; then _ten_match "$opts --help" "$cur"; return; fi
  # only the first positional argument completes (an instance, a file)
  if ((\${#typed[@]} == 1)); then
    case "$kind" in
      instance) _ten_match "$(ten completion --instances 2>/dev/null)" "$cur" ;;
      file) _ten_want_files=1 ;;
      command) _ten_match ${quote(first.join(' '))} "$cur" ;;
      shell) _ten_match ${quote(SHELLS.join(' '))} "$cur" ;;
    esac
  fi
}
# the words of $1 (split on blanks) that start with $2, added to reply
_ten_match() {
  local w
  for w in $1; do [[ "$w" == "$2"* ]] && reply+=("$w"); done
}
_ten_value_options=${quote(valueOptions.join(' '))}
`;
}

/** bash: the shared function, then bash's own glue (`complete -F`, compgen for files). */
function bash(commands: CommandModel[]): string {
  return `# ten completion for bash. Load it with: source <(ten completion bash)
${body(commands)}_ten_bash() {
  local -a reply COMP_WORDS
  local _ten_want_files COMP_CWORD line="\${COMP_LINE:0:COMP_POINT}" cur pre=""
  # bash splits the line at the characters of COMP_WORDBREAKS too, ':' among them (api:v2 is three
  # words to it): the words again, split on blanks only
  read -ra COMP_WORDS <<< "$line"
  [[ -z "$line" || "$line" == *[[:space:]] ]] && COMP_WORDS+=("")
  COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
  _ten_complete
  cur="\${COMP_WORDS[COMP_CWORD]}"
  # and it replaces only what follows the last of them in the word: the candidates without it
  [[ "$cur" == *:* && "$COMP_WORDBREAKS" == *:* ]] && pre="\${cur%"\${cur##*:}"}"
  COMPREPLY=("\${reply[@]#"$pre"}")
  ((_ten_want_files)) && COMPREPLY+=($(compgen -f -- "$cur"))
  return 0
}
complete -F _ten_bash ten
`;
}

/** zsh: the shared function run under ksh emulation (0-based arrays, words split on blanks), its
 *  candidates handed to compadd and files to _files. Needs compinit (as every zsh completion). */
function zsh(commands: CommandModel[]): string {
  return `#compdef ten
# ten completion for zsh. Load it with: source <(ten completion zsh)   (after compinit)
${body(commands)}_ten() {
  emulate -L ksh
  local -a COMP_WORDS reply
  COMP_WORDS=("\${words[@]}")
  local COMP_CWORD=$((CURRENT - 1)) _ten_want_files
  _ten_complete
  ((\${#reply[@]})) && compadd -- "\${reply[@]}"
  ((_ten_want_files)) && _files
  return 0
}
if (( $+functions[compdef] )); then compdef _ten ten; else print -u2 'ten completion: load compinit first: autoload -U compinit && compinit'; fi
`;
}

/** fish: one `complete` line per command and option, with descriptions. */
function fish(commands: CommandModel[]): string {
  const lines = ['# ten completion for fish. Load it with: ten completion fish | source', 'complete -c ten -f'];
  const first = new Map<string, string>();
  for (const c of commands) if (!first.has(c.path[0]!)) first.set(c.path[0]!, c.path.length === 1 ? c.description : `${c.path[0]} …`);
  for (const [w, d] of first) lines.push(`complete -c ten -n __fish_use_subcommand -a ${quote(w)} -d ${quote(d)}`);
  for (const c of commands) {
    const [w, sub] = c.path;
    const siblings = commands.filter((o) => o.path[0] === w && o.path.length > 1).map((o) => o.path[1]);
    const when = sub === undefined
      ? `__fish_seen_subcommand_from ${w}${siblings.length ? `; and not __fish_seen_subcommand_from ${siblings.join(' ')}` : ''}`
      : `__fish_seen_subcommand_from ${w}; and __fish_seen_subcommand_from ${sub}`;
    if (sub !== undefined) lines.push(`complete -c ten -n ${quote(`__fish_seen_subcommand_from ${w}; and not __fish_seen_subcommand_from ${siblings.join(' ')}`)} -a ${quote(sub)} -d ${quote(c.description)}`);
    for (const o of c.options) {
      const long = (o.negation ?? o.name).replace(/^--/, '');
      const short = o.names.find((n) => /^-[^-]/.test(n));
      lines.push(`complete -c ten -n ${quote(when)} -l ${long}${short ? ` -s ${short.slice(1)}` : ''}${o.value ? (FILE_VALUES.has(o.value) ? ' -r -F' : ' -r') : ''} -d ${quote(o.description)}`);
    }
    const kind = positionalKind(c);
    if (kind === 'instance') lines.push(`complete -c ten -n ${quote(when)} -a '(ten completion --instances 2>/dev/null)'`);
    if (kind === 'file') lines.push(`complete -c ten -n ${quote(when)} -F`);
    if (kind === 'command') lines.push(`complete -c ten -n ${quote(when)} -a ${quote([...first.keys()].join(' '))}`);
    if (kind === 'shell') lines.push(`complete -c ten -n ${quote(when)} -a ${quote(SHELLS.join(' '))}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script for `shell`. */
export function completionScript(shell: Shell, commands: CommandModel[]): string {
  return shell === 'bash' ? bash(commands) : shell === 'zsh' ? zsh(commands) : fish(commands);
}
