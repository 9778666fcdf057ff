import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import { commandHelp, commandModels, findCommand, indexHelp, subcommands, suggestCommand, type CommandModel } from '../help.ts';
import { packageVersion, printError } from '../output.ts';
import { BaseCommand } from './base.ts';

export class HelpCommand extends BaseCommand {
  static paths = [['help']];
  static usage = Command.Usage({
    category: 'Shell',
    description: 'Show the commands, or what one command takes',
    details: `
      Without a command, lists every command with a line about it. With one, prints its usage, what it does, its options and examples: the same as \`ten COMMAND --help\`.
    `,
    examples: [
      ['Every command', '$0 help'],
      ['What ten spawn takes', '$0 help spawn'],
      ['A command of two words', '$0 help rollout status'],
    ],
  });

  command0 = Option.String({ name: 'command', required: false });
  command1 = Option.String({ name: 'subcommand', required: false });

  private get command(): string[] {
    return [this.command0, this.command1].filter((w): w is string => w !== undefined);
  }

  /** 0, or 2 (a usage error, as for any unknown command) when there is no such command. */
  async perform(): Promise<number> {
    const commands = commandModels(this.cli);
    if (this.command.length === 0) {
      this.context.stdout.write(indexHelp(commands, packageVersion()));
      return 0;
    }
    const c = findCommand(commands, this.command);
    const group = subcommands(commands, this.command[0]!);
    if (!c && group.length > 0 && this.command.length === 1) {
      // `ten help export`: the commands of that group, each with its own help
      this.context.stdout.write(group.map(commandHelp).join('\n'));
      return 0;
    }
    if (!c) {
      printError(this.context.stderr, unknownCommand(commands, this.command[0]!));
      return 2;
    }
    this.context.stdout.write(commandHelp(c));
    return 0;
  }
}

/** TEN_ERR_CLI_UNKNOWN_COMMAND for `word`, with what it probably meant. */
export function unknownCommand(commands: CommandModel[], word: string) {
  const guess = suggestCommand(commands, word);
  return tenErr('TEN_ERR_CLI_UNKNOWN_COMMAND', JSON.stringify(word), guess ? ` (did you mean ${guess}?)` : '');
}
