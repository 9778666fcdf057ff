// `node --import tsx scripts/build-validators.ts OUTFILE`: writes the validator of the config
// file's schema (core/config-schema.ts ConfigFileSchema) as CommonJS code compiled ahead of time by
// ajv's standalone mode, with the options of the one ajv (core/schema.ts newAjv). scripts/build-cli.mjs
// puts it in dist/ as config-validator.cjs, where core/schema.ts configValidator() loads it instead
// of compiling the schema at every start of `ten` (about 100 ms).
import { writeFileSync } from 'node:fs';
import standaloneMod from 'ajv/dist/standalone/index.js';
import { ConfigFileSchema } from '../core/config-schema.ts';
import { newAjv } from '../core/schema.ts';

const standaloneCode = ((standaloneMod as unknown as { default?: unknown }).default ?? standaloneMod) as typeof standaloneMod.default;
const out = process.argv[2];
if (!out) throw new Error('usage: build-validators.ts OUTFILE');
const ajv = newAjv({ code: { source: true } });
writeFileSync(out, standaloneCode(ajv, ajv.compile(ConfigFileSchema)));
