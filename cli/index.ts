// Builds the `ten` CLI: every command registered explicitly. runCli() is what cli/main.ts calls.
import { Builtins, Cli, type BaseContext } from 'clipanion';
import { normalizeArgv } from './argv.ts';
import { ConfigCommand } from './commands/config.ts';
import { HealthCommand } from './commands/health.ts';
import { PsCommand } from './commands/ps.ts';
import { RestartCommand } from './commands/restart.ts';
import { ServeCommand } from './commands/serve.ts';
import { SpawnCommand } from './commands/spawn.ts';
import { StopCommand } from './commands/stop.ts';
import { VersionCommand } from './commands/version.ts';
import { WeightCommand } from './commands/weight.ts';
import { packageVersion } from './output.ts';

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
    ConfigCommand,
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
    context.stderr.write(usageError(cli, input[0]!, err));
    return 2;
  }
  return cli.run(command, context);
}

/** Unknown command, missing or unknown option: clipanion's message, in our error format. */
function usageError(cli: Cli, word: string, err: unknown): string {
  const defs = cli.definitions().filter((d) => d.description);
  const def = defs.find((d) => d.path === `ten ${word}`);
  if (!def) {
    const commands = defs.map((d) => d.path.slice('ten '.length)).join(', ');
    return `error TEN_ERR_CLI_INVALID_ARGUMENT: unknown command ${JSON.stringify(word)}\n  hint: commands are ${commands}; see \`ten --help\`\n`;
  }
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  const synopsis = def.usage.replace(/ \[-[^\]]*\]/g, '').trim();
  return `error TEN_ERR_CLI_INVALID_ARGUMENT: ${message}\n  hint: usage: ${synopsis} [options] (see \`${def.path} --help\`)\n`;
}
