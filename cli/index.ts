// Builds the `ten` CLI: every command registered explicitly. runCli() is what cli/main.ts calls.
import { Cli, type BaseContext } from 'clipanion';
import { NEGATIVE_NUMBER, normalizeArgv, valueOptions } from './argv.ts';
import { BackupCommand, RestoreCommand } from './commands/backup.ts';
import { CompletionCommand } from './commands/completion.ts';
import { ConfigCommand } from './commands/config.ts';
import { DeployCommand } from './commands/deploy.ts';
import { DoctorCommand } from './commands/doctor.ts';
// ten export kubernetes (issue 12)
import { ExportKubernetesCommand } from './commands/export.ts';
import { HealthCommand } from './commands/health.ts';
import { HelpCommand, unknownCommand } from './commands/help.ts';
import { HistoryCommand } from './commands/history.ts';
// ten install / ten uninstall (systemd, Caddy)
import { InstallCommand, UninstallCommand } from './commands/install.ts';
// ten init (issue 12)
import { InitCommand } from './commands/init.ts';
import { LogsCommand } from './commands/logs.ts';
import { PsCommand } from './commands/ps.ts';
import { ReloadCommand } from './commands/reload.ts';
import { RestartCommand } from './commands/restart.ts';
import { RolloutAbortCommand, RolloutCommand, RolloutStatusCommand } from './commands/rollout.ts';
import { RouteCommand } from './commands/route.ts';
import { ServeCommand } from './commands/serve.ts';
import { ShadowCommand, ShadowStatusCommand, ShadowStopCommand } from './commands/shadow.ts';
import { SpawnCommand } from './commands/spawn.ts';
import { StopCommand } from './commands/stop.ts';
import { TokenCreateCommand, TokenListCommand, TokenRevokeCommand } from './commands/token.ts';
import { TopCommand } from './commands/top.ts';
import { VersionCommand } from './commands/version.ts';
import { WeightCommand } from './commands/weight.ts';
import { commandHelp, commandModels, findCommand, indexHelp, subcommands, suggestOption, suggestSubcommand, type CommandModel } from './help.ts';
import { packageVersion, printError } from './output.ts';
import { tenErr } from '../core/errors.ts';

export function buildCli(): Cli {
  // Colours only on a terminal (clipanion 3.2 alone would also colour piped output), never with NO_COLOR.
  const enableColors = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  const cli = new Cli({ binaryLabel: 'tenement', binaryName: 'ten', binaryVersion: packageVersion(), enableColors });
  for (const command of [
    ServeCommand,
    SpawnCommand,
    StopCommand,
    RestartCommand,
    WeightCommand,
    HealthCommand,
    PsCommand,
    TopCommand,
    DeployCommand,
    RouteCommand,
    RolloutCommand,
    RolloutStatusCommand,
    RolloutAbortCommand,
    ShadowCommand,
    ShadowStatusCommand,
    ShadowStopCommand,
    HistoryCommand,
    LogsCommand,
    TokenCreateCommand,
    TokenListCommand,
    TokenRevokeCommand,
    // ten init (issue 12)
    InitCommand,
    ConfigCommand,
    ReloadCommand,
    DoctorCommand,
    BackupCommand,
    RestoreCommand,
    // ten install / ten uninstall (systemd, Caddy)
    InstallCommand,
    UninstallCommand,
    // ten export kubernetes (issue 12)
    ExportKubernetesCommand,
    VersionCommand,
    HelpCommand,
    CompletionCommand,
  ]) {
    cli.register(command);
  }
  return cli;
}

/** Runs `ten ARGV` and returns the exit code: 0 ok, 1 error, 2 bad usage. */
export async function runCli(argv: readonly string[], context: BaseContext = Cli.defaultContext): Promise<number> {
  const cli = buildCli();
  const commands = commandModels(cli);
  // help is ours, not clipanion's (which wrote values as `#0` and `--wait` for `--no-wait`):
  // `ten`, `ten --help`, `ten COMMAND --help` / `-h` anywhere before a `--`
  const words = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length);
  if (argv.length === 0 || words.includes('--help') || words.includes('-h')) {
    const c = findCommand(commands, words.filter((w) => !w.startsWith('-')));
    context.stdout.write(c ? commandHelp(c) : indexHelp(commands, packageVersion()));
    return 0;
  }
  const input = normalizeArgv(argv, valueOptions(commands));
  let command;
  try {
    command = cli.process(input, context);
  } catch (err) {
    const e = usageError(commands, input, err);
    if (e instanceof Error) printError(context.stderr, e);
    else context.stderr.write(e);
    return 2;
  }
  return cli.run(command, context);
}

/** The positional arguments of `input` after `c`'s path (options and their values left out). */
function givenPositionals(c: CommandModel, input: readonly string[]): string[] {
  const takesValue = new Set(c.options.filter((o) => o.value).flatMap((o) => o.names));
  const positionals: string[] = [];
  for (let i = c.path.length; i < input.length; i++) {
    if (input[i] === '--') { positionals.push(...input.slice(i + 1)); break; }
    if (input[i]!.startsWith('-')) { if (takesValue.has(input[i]!)) i++; continue; }
    positionals.push(input[i]!);
  }
  return positionals;
}

/** Unknown command or option (with what it probably meant), missing option: in our error format. */
function usageError(commands: CommandModel[], input: readonly string[], err: unknown): Error | string {
  const c = findCommand(commands, input);
  if (!c) {
    // `ten export`, `ten export kube`: a group of commands without its second word
    const group = subcommands(commands, input[0]!);
    if (group.length === 0) return unknownCommand(commands, input[0]!);
    const guess = input[1] === undefined ? undefined : suggestSubcommand(commands, input[0]!, input[1]);
    const what = input[1] === undefined ? 'needs one more word' : `has no command ${JSON.stringify(input[1])}`;
    return `error TEN_ERR_CLI_INVALID_ARGUMENT: \`ten ${input[0]}\` ${what}${guess ? ` (did you mean ${guess}?)` : ''}\n  hint: the commands are ${group.map((g) => `\`ten ${g.path.join(' ')}\``).join(', ')} (see \`ten help ${input[0]}\`)\n`;
  }
  let message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  // a value option last, or followed by another option: `ten logs api --since` (clipanion: `Not
  // enough arguments to option --since.`, or a misleading `Command not found`)
  for (const [i, tok] of input.entries()) {
    const o = c.options.find((x) => x.value !== undefined && x.names.includes(tok));
    const next = input[i + 1];
    if (o && (next === undefined || (next.startsWith('-') && !NEGATIVE_NUMBER.test(next)))) {
      const known = next !== undefined && c.options.some((x) => x.names.includes(next.split('=')[0]!));
      const why = next === undefined ? '' : known ? `, before ${next}` : `: ${JSON.stringify(next)} reads as an option; write ${tok}=${next} if it is the value`;
      return `error TEN_ERR_CLI_INVALID_ARGUMENT: ${tok} needs a value (${o.value})${why}\n  hint: usage: ${usageLine(c)} (see \`ten help ${c.path.join(' ')}\`)\n`;
    }
  }
  // clipanion: `Invalid option name ("--json=yes").`: a flag given a value, or `-n5`
  const invalid = /^Invalid option name \("([^"]+)"\)/.exec(message);
  if (invalid) {
    const [name, value] = invalid[1]!.includes('=') ? invalid[1]!.split(/=(.*)/s) : [invalid[1]!.slice(0, 2), invalid[1]!.slice(2)];
    const o = c.options.find((x) => x.names.includes(name!));
    if (o && o.value === undefined) message = `${name} is a flag and takes no value (${JSON.stringify(value)})${o.negation ? `: write ${o.name} or ${o.negation}` : `: write ${name} alone`}`;
    else if (o) message = `write ${name} ${value}, with a blank (or ${o.name}=${value})`;
    else {
      const guess = suggestOption(c, name!);
      return tenErr('TEN_ERR_CLI_UNKNOWN_OPTION', name!, `\`ten ${c.path.join(' ')}\``, guess ? ` (did you mean ${guess}?)` : '');
    }
  }
  // clipanion: `Unsupported option name ("--jsn").`
  const unsupported = /^Unsupported option name \("([^"]+)"\)/.exec(message);
  if (unsupported) {
    const guess = suggestOption(c, unsupported[1]!);
    return tenErr('TEN_ERR_CLI_UNKNOWN_OPTION', unsupported[1]!, `\`ten ${c.path.join(' ')}\``, guess ? ` (did you mean ${guess}?)` : '');
  }
  const given = givenPositionals(c, input);
  // clipanion reports a missing required option as "Command not found; did you mean: ...".
  const missing = c.options.filter((o) => o.required && !input.some((tok) => o.names.some((n) => tok === n || tok.startsWith(`${n}=`)))).map((o) => o.label);
  if (message.startsWith('Command not found') && missing.length > 0) message = `missing ${missing.join(', ')}`;
  else if (message.startsWith('Command not found')) message = `unexpected argument ${JSON.stringify(given[c.positionals.length] ?? '')}`;
  if (message.startsWith('Not enough positional arguments')) message = `missing ${c.positionals.filter((p) => p.startsWith('<')).slice(given.length).join(' ')}`;
  const extra = /^Extraneous positional argument \("(.*)"\)/.exec(message);
  if (extra) message = `unexpected argument ${JSON.stringify(extra[1])}`;
  // `ten rollout abortt api`: the first argument was meant as a subcommand
  const meant = given[0] === undefined ? undefined : suggestSubcommand(commands, c.path[0]!, given[0]);
  if (c.path.length === 1 && meant) message += ` (did you mean ${meant}?)`;
  return `error TEN_ERR_CLI_INVALID_ARGUMENT: ${message}\n  hint: usage: ${usageLine(c)} (see \`ten help ${c.path.join(' ')}\`)\n`;
}

/** `ten logs [service[:id]] [options]`, with the options it requires written out. */
function usageLine(c: CommandModel): string {
  return ['ten', ...c.path, ...c.positionals, ...c.options.filter((o) => o.required).map((o) => o.label), '[options]'].join(' ');
}
