// Entry point: `node --import tsx cli/main.ts ARGS` (bin/ten.js does the same for the `ten` binary).
import { runCli } from './index.ts';

process.exit(await runCli(process.argv.slice(2)));
