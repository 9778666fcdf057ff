// Builds the `ten` CLI: every command registered explicitly. runCli() is what cli/main.ts calls.
import { Builtins, Cli, type BaseContext } from 'clipanion';
import { normalizeArgv } from './argv.ts';
import { BackupCommand, RestoreCommand } from './commands/backup.ts';
import { ConfigCommand } from './commands/config.ts';
import { DeployCommand } from './commands/deploy.ts';
import { DoctorCommand } from './commands/doctor.ts';
import { HealthCommand } from './commands/health.ts';
import { HistoryCommand } from './commands/history.ts';
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
import { packageVersion } from './output.ts';

function buildCli(): Cli {
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
    VersionCommand,
    Builtins.HelpCommand,
  ]) {
    cli.register(command);
  }
  return cli;
}

/** Runs `ten ARGV` and returns the exit code: 0 ok, 1 error, 2 bad usage. */
export async function runCli(argv: readonly string[], context: BaseContext = Cli.defaultContext): Promise<number> {
  const cli = buildCli();
  const input = argv.length === 0 ? ['--help'] : normalizeArgv(argv);
  let command;
  try {
    command = cli.process(input, context);
  } catch (err) {
    context.stderr.write(usageError(cli, input, err));
    return 2;
  }
  return cli.run(command, context);
}

/** Unknown command, missing or unknown option: clipanion's message, in our error format. */
function usageError(cli: Cli, input: readonly string[], err: unknown): string {
  const defs = cli.definitions().filter((d) => d.description);
  // The command with the longest path the input starts with: `ten rollout status api` is
  // `ten rollout status`, not `ten rollout`.
  const def = defs
    .filter((d) => d.path.split(' ').slice(1).every((word, i) => input[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!def) {
    const commands = defs.map((d) => d.path.slice('ten '.length)).join(', ');
    return `error TEN_ERR_CLI_INVALID_ARGUMENT: unknown command ${JSON.stringify(input[0]!)}\n  hint: commands are ${commands}; see \`ten --help\`\n`;
  }
  // Options the command requires, written `--to TO`.
  const required = def.options.filter((o) => o.required).map((o) => {
    const name = o.definition.split(' ')[0]!;
    return o.definition.includes('#') ? `${name} ${name.replace(/^-+/, '').toUpperCase()}` : name;
  });
  let message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  // clipanion reports a missing required option as "Command not found; did you mean: ...".
  const missing = required.filter((r) => {
    const name = r.split(' ')[0]!;
    return !input.some((tok) => tok === name || tok.startsWith(`${name}=`));
  });
  if (message.startsWith('Command not found') && missing.length > 0) message = `missing ${missing.join(', ')}`;
  const synopsis = [def.usage.replace(/ \[-[^\]]*\]/g, '').trim(), ...required].join(' ');
  return `error TEN_ERR_CLI_INVALID_ARGUMENT: ${message}\n  hint: usage: ${synopsis} [options] (see \`${def.path} --help\`)\n`;
}
