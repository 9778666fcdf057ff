// Shared options and error handling. Commands implement perform(); execute() turns any error into
// `error CODE: message` + hint on stderr and exit code 1 (the stack only with --debug).
import { Command, Option } from 'clipanion';
import { Client } from '../client.ts';
import { parseDuration } from '../durations.ts';
import { printError } from '../output.ts';
import { TenementError } from '../../core/errors.ts';

export abstract class BaseCommand extends Command {
  config = Option.String('--config', { description: 'Path of tenement.toml (default: ./tenement.toml or $TENEMENT_CONFIG)' });
  debug = Option.Boolean('--debug', false, { description: 'Log each request and print stack traces of errors' });

  abstract perform(): Promise<number | void>;

  async execute(): Promise<number> {
    try {
      return (await this.perform()) ?? 0;
    } catch (err) {
      printError(this.context.stderr, this.explain(err), this.debug, this.path);
      return 1;
    }
  }

  /** The error as printed (ApiCommand names an answer it could not read). */
  protected explain(err: unknown): unknown {
    return err;
  }

  protected out(line: string): void {
    this.context.stdout.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  protected outJson(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }
}

/** A command that talks to ten serve over the management API. */
export abstract class ApiCommand extends BaseCommand {
  server = Option.String('--server', { description: 'Address of ten serve (default: $TENEMENT_SERVER, else api_listen or listen and port of ./tenement.toml, else http://localhost:8080)' });
  token = Option.String('--token', { description: 'API token (default: $TENEMENT_TOKEN or {data_dir}/api_token)' });

  connectTimeout = Option.String('--connect-timeout', { description: 'Give up when no connection is open within this long (default: $TENEMENT_CONNECT_TIMEOUT or 5s)' });
  requestTimeout = Option.String('--request-timeout', { description: 'Give up when an answer takes longer (default: $TENEMENT_REQUEST_TIMEOUT, else 30s for reads, 2m for changes)' });

  private clientInstance?: Client;

  /** A TypeError after an answer of ten serve (`instances.map is not a function`) is an answer of
   *  another shape than this ten reads: TEN_ERR_CLI_BAD_ANSWER, not a bare JavaScript error. */
  protected override explain(err: unknown): unknown {
    const last = this.clientInstance?.lastAnswer;
    if (!(err instanceof TypeError) || last === undefined) return err;
    return new TenementError('TEN_ERR_CLI_BAD_ANSWER', [this.clientInstance!.server, last, err.message], {}, err);
  }

  /** Created on first use, i.e. after the arguments have been validated. */
  protected get client(): Client {
    const env = this.context.env ?? process.env;
    const duration = (flag: string | undefined, name: string, envName: string) => {
      const raw = flag ?? (env[envName] || undefined);
      return raw === undefined ? undefined : parseDuration(raw, 's', flag === undefined ? envName : name);
    };
    this.clientInstance ??= new Client({
      server: this.server,
      token: this.token,
      config: this.config,
      connectTimeoutMs: duration(this.connectTimeout, '--connect-timeout', 'TENEMENT_CONNECT_TIMEOUT'),
      timeoutMs: duration(this.requestTimeout, '--request-timeout', 'TENEMENT_REQUEST_TIMEOUT'),
      log: this.debug ? (line) => this.context.stderr.write(`debug: ${line}\n`) : undefined,
      notice: (line) => this.context.stderr.write(`${line}\n`),
    });
    return this.clientInstance;
  }
}
