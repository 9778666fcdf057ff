import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import { printError } from '../output.ts';
import { BaseCommand } from './base.ts';

/** After a second signal, what has not stopped is SIGKILLed this much later (ms). */
const HURRY_MS = 1000;

export class ServeCommand extends BaseCommand {
  static paths = [['serve']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Run the tenement server',
    details: `
      Loads tenement.toml, spawns the instances listed under \`[instances]\`, and serves the reverse proxy and the management API on one port. \`--port\` and \`--domain\` override the config file.

      SIGHUP re-reads the config file and applies what changed, as \`ten reload\` does; a config with errors is refused and logged, and the running one stays.

      SIGTERM or SIGINT (Ctrl-C) shuts down gracefully: in-flight requests get up to \`drain_timeout\` seconds, then every instance is stopped (SIGTERM, then SIGKILL after its \`stop_timeout\`). A second signal cuts that short: what has not stopped 1 s later is killed; a third kills it at once. \`ten serve\` exits only once every app is gone.

      With \`--keep-apps\`, shutting down leaves the apps running instead, for the next \`ten serve\` on the same data dir to adopt (to upgrade tenement itself without restarting the apps). A \`ten serve\` that was killed (\`kill -9\`, a crash) leaves them running too: the next one adopts every app whose process is still the one it recorded (same pid and start time, same cgroup), reconnects to its output, and starts only what is gone.
    `,
    examples: [
      ['Serve ./tenement.toml', '$0 serve'],
      ['Serve on port 9000 for example.com', '$0 serve --port 9000 --domain example.com'],
      ['Serve another config file', '$0 serve --config /etc/tenement/tenement.toml'],
      ['Upgrade tenement without restarting the apps', '$0 serve --keep-apps  # then SIGTERM it, upgrade, and start ten serve again'],
    ],
  });

  port = Option.String('--port', { description: 'Port to listen on (overrides settings.port)' });
  domain = Option.String('--domain', { description: 'Base domain to route (overrides settings.domain)' });
  keepApps = Option.Boolean('--keep-apps', false, { description: 'On SIGTERM/SIGINT, leave the apps running for the next ten serve to adopt' });

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
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        if (++signals > 1) {
          // never process.exit() here: that would orphan the apps still stopping
          const grace = signals === 2 ? HURRY_MS : 0;
          this.context.stderr.write(`${signal} again: stopping the apps now (SIGKILL ${grace ? `in ${grace / 1000} s` : 'at once'})\n`);
          server.hurry(grace);
          return;
        }
        // the server logs its own shutdown
        server.close({ keepApps: this.keepApps }).then(
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
