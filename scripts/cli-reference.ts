// Writes the generated parts of docs/cli.md (cli/reference.ts) from the CLI's own definitions.
// Usage: npm run docs:cli
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandModels } from '../cli/help.ts';
import { buildCli } from '../cli/index.ts';
import { renderReference } from '../cli/reference.ts';

const file = join(import.meta.dirname, '..', 'docs', 'cli.md');
const before = readFileSync(file, 'utf8');
const after = renderReference(before, commandModels(buildCli()));
if (after !== before) writeFileSync(file, after);
console.log(after === before ? 'docs/cli.md: up to date' : 'docs/cli.md: reference parts rewritten');
