// `ten completion bash|zsh|fish` in the real shells: each script is loaded as a user loads it and
// asked what the shell would ask at a Tab — commands, two-word commands, options (`--no-wait` as
// typed), files for --config, and instance names from a real ten serve. zsh and fish come from
// Debian (scripts/ensure-debian.sh installs them for npm test); without them their part is skipped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, fixtureService, ROOT, startTen, type Ten } from './harness.ts';

const bin = mkdtempSync(join(tmpdir(), 'ten-completion-'));
writeFileSync(join(bin, 'ten'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin/ten.js')}" "$@"\n`);
chmodSync(join(bin, 'ten'), 0o755);
after(async () => {
  await cleanup();
  rmSync(bin, { recursive: true, force: true });
});

let env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
const run = (shell: string, script: string) => execFileSync(shell, ['-c', script], { env, encoding: 'utf8', cwd: ROOT, timeout: 30_000 });

/** What each shell offers after typing `line` (the last word is the one being completed). */
const ask = {
  bash: (line: string) => {
    // as bash gives them: COMP_LINE and COMP_POINT, and COMP_WORDS split at blanks and at ':' (a
    // word of its own, as COMP_WORDBREAKS has it); a candidate replaces what follows the last ':'
    const words = line.split(' ').flatMap((w, i, all) => w.split(/(:)/).filter((x, j, parts) => x !== '' || (i === all.length - 1 && j === parts.length - 1)));
    const cur = line.slice(line.lastIndexOf(' ') + 1);
    const shown = run('bash', `source ${bin}/ten.bash; COMP_LINE='${line}'; COMP_POINT=${line.length}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ten_bash; printf '%s\\n' "\${COMPREPLY[@]}"`);
    return lines(shown).map((c) => `${cur.slice(0, cur.lastIndexOf(':') + 1)}${c}`).join('\n');
  },
  zsh: (line: string) => {
    const words = line.split(' ');
    // outside a completion widget: compadd and _files stand in, printing what they were given
    return run('zsh', `autoload -U compinit && compinit -u -d ${bin}/zcompdump; source ${bin}/ten.zsh; compadd() { shift; print -l -- "$@"; }; _files() { print -- '<files>'; }; words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _ten`);
  },
  fish: (line: string) => run('fish', `source ${bin}/ten.fish; complete -C '${line}'`).replace(/\t.*$/gm, ''),
};
const lines = (s: string) => s.split('\n').filter(Boolean);

describe('shell completion', () => {
  let ten: Ten;
  before(async () => {
    // each script written once, as a user's start-up file would hold it (a `ten` per Tab is enough)
    for (const sh of ['bash', 'zsh', 'fish']) writeFileSync(join(bin, `ten.${sh}`), execFileSync(join(bin, 'ten'), ['completion', sh], { encoding: 'utf8' }));
    ten = await startTen(`${fixtureService('api')}\n[instances]\napi = ["a", "b"]\n`);
    env = { ...env, TENEMENT_SERVER: `http://127.0.0.1:${ten.port}`, TENEMENT_TOKEN: ten.token };
  });

  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    test(shell, (t) => {
      if (!existsSync(`/usr/bin/${shell}`)) return t.skip(`/usr/bin/${shell} is missing (scripts/ensure-debian.sh installs it as root)`);
      assert.deepEqual(lines(ask[shell]('ten sp')), ['spawn']);
      assert.deepEqual(lines(ask[shell]('ten rollout s')), ['status']);
      assert.deepEqual(lines(ask[shell]('ten spawn --no')), ['--no-wait']);
      assert.ok(lines(ask[shell]('ten deploy --')).includes('--strategy'));
      // options with a short name too (-f, --follow) complete by their long name
      assert.deepEqual(lines(ask[shell]('ten logs --fol')), ['--follow']);
      assert.deepEqual(lines(ask[shell]('ten export kubernetes --outp')), ['--output']);
      assert.deepEqual(lines(ask[shell]('ten completion ')).sort(), ['bash', 'fish', 'zsh']);
      // instances from the running ten serve
      assert.deepEqual(lines(ask[shell]('ten stop api:')), ['api:a', 'api:b']);
      // bash split `api:b` at the ':' and offered nothing (found by the issue 13 trial)
      assert.deepEqual(lines(ask[shell]('ten stop api:b')), ['api:b']);
      // a file for --config
      const files = lines(ask[shell]('ten ps --config package.j'));
      assert.ok(files.includes('package.json') || files.includes('<files>'), files.join(','));
    });
  }

  test('ten completion without a known shell is refused with the choices', () => {
    const r = (() => { try { run('bash', 'ten completion tcsh'); return ''; } catch (e) { return String((e as { stderr: string }).stderr); } })();
    assert.match(r, /^error TEN_ERR_CLI_INVALID_ARGUMENT: unknown shell "tcsh": expected bash, zsh, fish/);
  });
});
