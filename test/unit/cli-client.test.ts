// Where the CLI's API client finds its token: --token, TENEMENT_TOKEN, {data_dir}/api_token of the
// config file, ./tenement-data/api_token. Plain files, no server. The commands against a real
// ten serve (requests, output, relayed errors, the token file ten serve writes):
// test/integration/cli.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveToken } from '../../cli/client.ts';

test('token from {data_dir}/api_token of the config file, else ./tenement-data/api_token', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ten-token-'));
  writeFileSync(join(dir, 'tenement.toml'), '[settings]\ndata_dir = "./state"\n');
  mkdirSync(join(dir, 'state'));
  writeFileSync(join(dir, 'state', 'api_token'), 'from-file\n');
  assert.equal(await resolveToken({ cwd: dir, env: {} }), 'from-file');
  assert.equal(await resolveToken({ cwd: dir, env: { TENEMENT_TOKEN: 'from-env' } }), 'from-env');
  assert.equal(await resolveToken({ cwd: dir, env: { TENEMENT_TOKEN: 'from-env' }, token: 'from-flag' }), 'from-flag');
  const bare = mkdtempSync(join(tmpdir(), 'ten-token-'));
  assert.equal(await resolveToken({ cwd: bare, env: {} }), undefined);
  mkdirSync(join(bare, 'tenement-data'));
  writeFileSync(join(bare, 'tenement-data', 'api_token'), 'fallback');
  assert.equal(await resolveToken({ cwd: bare, env: {} }), 'fallback');
  for (const d of [dir, bare]) rmSync(d, { recursive: true, force: true });
});
