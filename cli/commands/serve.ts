import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import { printError } from '../output.ts';
import { BaseCommand } from './base.ts';

export class ServeCommand extends BaseCommand {
  static paths = [['serve']];
  static usage = Command.Usage({
    description: 'Run the tenement server',
    details: `
      Loads tenement.toml, spawns the instances listed under \`[instances]\`, and serves the reverse proxy and the management API on one port. \`--port\` and \`--domain\` override the config file.

      SIGHUP re-reads the config file and applies what changed, as \`ten reload\` does; a config with errors is refused and logged, and the running one stays.

      SIGTERM or SIGINT (Ctrl-C) shuts down gracefully: in-flight requests get up to \`drain_timeout\` seconds, then every instance is stopped. A second signal exits at once with code 1.
    `,
    examples: [
      ['Serve ./tenement.toml', '$0 serve'],
      ['Serve on port 9000 for example.com', '$0 serve --port 9000 --domain example.com'],
      ['Serve another config file', '$0 serve --config /etc/tenement/tenement.toml'],
    ],
  });

  port = Option.String('--port', { description: 'Port to listen on (overrides settings.port)' });
  domain = Option.String('--domain', { description: 'Base domain to route (overrides settings.domain)' });

  async perform(): Promise<number> {
    const overrides: { port?: number; domain?: string } = {};
    if (this.port !== undefined) {
      if (!/^\d{1,5}$/.test(this.port) || Number(this.port) < 1 || Number(this.port) > 65535) {
        throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --port ${JSON.stringify(this.port)}: must be a whole number from 1 to 65535`);
      }
      overrides.port = Number(this.port);
    }
    if (this.domain !== undefined) {
      if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(this.domain)) {
        throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --domain ${JSON.stringify(this.domain)}: expected a host name like example.com`);
      }
      overrides.domain = this.domain.toLowerCase();
    }
    // SIGHUP reloads the config once the server runs; during start-up it is ignored (its default
    // action would end the process)
    let reload: ((source: string) => Promise<unknown>) | undefined;
    process.on('SIGHUP', () => { reload?.('SIGHUP').catch(() => undefined); }); // the reloader logs its outcome
    const { loadConfig } = await import('../../core/config.ts');
    const config = loadConfig({ path: this.config, cwd: process.cwd(), env: process.env, overrides });
    // Loaded here so that no other command pays for the server code.
    const [{ startServer }, { BUILTINS }] = await Promise.all([import('../../core/server.ts'), import('../../plugins/index.ts')]);
    // a reload (ten reload, SIGHUP) reads the same file with the same overrides
    const load = () => loadConfig({ path: config.path, cwd: process.cwd(), env: process.env, overrides });
    const server = await startServer(config, BUILTINS, { load }); // logs "tenement listening" itself
    reload = server.reload;

    return new Promise<number>((resolve) => {
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          this.context.stderr.write(`${signal} again: exiting now\n`);
          process.exit(1);
        }
        stopping = true; // the server logs its own shutdown
        server.close().then(
          () => resolve(0),
          (err: unknown) => {
            printError(this.context.stderr, err, this.debug);
            resolve(1);
          },
        );
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
  }
}
