import { Command } from 'clipanion';
import { packageVersion } from '../output.ts';

export class VersionCommand extends Command {
  static paths = [['version'], ['--version'], ['-v']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Print the version of ten',
    examples: [['Print the version', '$0 version']],
  });

  async execute(): Promise<number> {
    this.context.stdout.write(`ten ${packageVersion()}\n`);
    return 0;
  }
}
