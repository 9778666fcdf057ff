import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import { Client } from '../client.ts';
import { completionScript, SHELLS, type Shell } from '../completion.ts';
import { commandModels } from '../help.ts';
import { BaseCommand } from './base.ts';

export class CompletionCommand extends BaseCommand {
  static paths = [['completion']];
  static usage = Command.Usage({
    category: 'Shell',
    description: 'Print the shell completion script for bash, zsh or fish',
    details: `
      Completes commands, their options and, for commands that take an instance, the services and instances of the ten serve the client would talk to (asked with short timeouts; nothing when it does not answer). Load it in the shell's start-up file.
    `,
    examples: [
      ['bash (in ~/.bashrc)', 'source <($0 completion bash)'],
      ['zsh (in ~/.zshrc)', 'source <($0 completion zsh)'],
      ['fish (in ~/.config/fish/config.fish)', '$0 completion fish | source'],
    ],
  });

  shell = Option.String({ name: 'shell', required: false });
  instances = Option.Boolean('--instances', false, { hidden: true });

  async perform(): Promise<number> {
    if (this.instances) return this.listInstances();
    if (!SHELLS.includes(this.shell as Shell)) {
      throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `${this.shell === undefined ? 'no shell given' : `unknown shell ${JSON.stringify(this.shell)}`}: expected ${SHELLS.join(', ')}`);
    }
    this.context.stdout.write(completionScript(this.shell as Shell, commandModels(this.cli)));
    return 0;
  }

  /** What the scripts call for instance arguments: `service` and `service:id`, one per line; nothing
   *  (exit 0) when ten serve is not there, so a completion never prints an error. */
  private async listInstances(): Promise<number> {
    try {
      const client = new Client({ config: this.config, connectTimeoutMs: 500, timeoutMs: 1500 });
      const { instances } = await client.list();
      const names = new Set(instances.flatMap((i) => [i.service, `${i.service}:${i.id}`]));
      if (names.size) this.context.stdout.write(`${[...names].sort().join('\n')}\n`);
    } catch {}
    return 0;
  }
}
