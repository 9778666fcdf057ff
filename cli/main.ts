// Entry point: `node --import tsx cli/main.ts ARGS` (bin/ten.js does the same for the `ten` binary).
import { runCli } from './index.ts';

const code = await runCli(process.argv.slice(2));
// A pipe takes 64 KiB at a time: what does not fit waits in stdout's queue, and process.exit()
// would drop it (`ten ps | wc -l` lost rows). An empty write's callback runs once all before it
// has been written; then exit, whatever handles are still open.
const flushed = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => s.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
