// How the CLI reports errors: `error CODE: message` and `  hint: ...` on stderr, the stack only
// with --debug. Works for TenementError and for ApiError (a server error relayed by the client).
import { VERSION } from '../core/version.ts';

interface Writable {
  write(chunk: string): unknown;
}

interface CodedError {
  code: string;
  message: string;
  hint?: string;
}

function isCoded(e: unknown): e is CodedError {
  const code: unknown = e instanceof Error ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('TEN_ERR_');
}

function formatError(err: unknown, debug = false, command?: readonly string[]): string {
  let out: string;
  if (isCoded(err)) {
    out = `error ${err.code}: ${err.message}\n`;
    // the catalog's generic `ten <command> --help`, made the command that failed
    if (err.hint) out += `  hint: ${command?.length ? err.hint.replaceAll('ten <command>', `ten ${command.join(' ')}`) : err.hint}\n`;
  } else {
    out = `error: ${err instanceof Error ? err.message : String(err)}\n`;
    if (!debug) out += '  hint: rerun with --debug to see where it happened\n';
  }
  if (debug && err instanceof Error && err.stack) {
    out += `${err.stack}\n`;
    if (err.cause !== undefined) out += `cause: ${err.cause instanceof Error ? err.cause.stack : String(err.cause)}\n`;
  }
  return out;
}

export function printError(stderr: Writable, err: unknown, debug = false, command?: readonly string[]): void {
  stderr.write(formatError(err, debug, command));
}

/** The version field of package.json. */
export function packageVersion(): string {
  return VERSION;
}

/** argv as a shell would need it typed: words with spaces or special characters quoted. */
export function shown(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}
