// Entry point: `node --import tsx cli/main.ts ARGS` (bin/ten.js does the same for the `ten` binary).
import { runCli } from './index.ts';

// A reader that went away (`ten logs | head -1`) is not an error of ten's: stop quietly, like
// other Unix tools do on EPIPE, instead of an unhandled 'error' event and a stack trace.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); else throw err; });
}

const code = await runCli(process.argv.slice(2));
// A pipe takes 64 KiB at a time: what does not fit waits in stdout's queue, and process.exit()
// would drop it (`ten ps | wc -l` lost rows). An empty write's callback runs once all before it
// has been written; then exit, whatever handles are still open.
const flushed = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => s.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
