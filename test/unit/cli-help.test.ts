// `ten help`, `--help` and "did you mean": the faults a new user met in the first minutes (issue 13:
// `ten help spawn` was an unknown command, typos got no suggestion, values showed as `#0`, and
// `[--wait]` where the docs say `--no-wait`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildCli } from '../../cli/index.ts';
import { commandHelp, commandModels, indexHelp } from '../../cli/help.ts';
import { captureCli } from '../integration/cli-helper.ts';

/** `ten ARGS` in this process (help and usage errors need no server, and a process per run
 *  would cost a second each). */
const ten = async (args: string[]) => {
  const r = await captureCli(args);
  return { code: r.code, stdout: r.out, stderr: r.err };
};

const commands = commandModels(buildCli());

test('`ten help spawn` is `ten spawn --help`: usage with --no-wait and placeholders, options, examples', async () => {
  const help = await ten(['help', 'spawn']);
  assert.equal(help.code, 0, help.stderr);
  const flag = await ten(['spawn', '--help']);
  assert.equal(flag.stdout, help.stdout);
  assert.match(help.stdout, /^ten spawn: Start a new instance of a service\n\nUsage\n  ten spawn <service\[:id\]> \[--id ID\] \[--weight N\] \[--no-wait\] \[--json\]\n/);
  assert.match(help.stdout, /^  --no-wait +Return at once/m);
  assert.match(help.stdout, /^Common options\n  --config PATH +Path of tenement\.toml/m);
  assert.match(help.stdout, /^Examples\n  Start api:green and wait until it runs\n    \$ ten spawn api --id green$/m);
  const two = await ten(['help', 'rollout', 'status']);
  assert.match(two.stdout, /^ten rollout status: Show the latest rollout of a service$/m);
  const group = await ten(['help', 'token']);
  assert.equal(group.code, 0);
  for (const sub of ['create', 'list', 'revoke']) assert.match(group.stdout, new RegExp(`^ten token ${sub}: `, 'm'));
});

test('`ten`, `ten help` and `ten --help` list every command by category', async () => {
  const outs = await Promise.all([ten([]), ten(['help']), ten(['--help'])]);
  for (const o of outs) assert.equal(o.code, 0);
  assert.equal(outs[0].stdout, outs[1].stdout);
  assert.equal(outs[1].stdout, outs[2].stdout);
  for (const c of commands) assert.match(outs[0].stdout, new RegExp(`^  ${c.path.join(' ')}\\b`, 'm'), c.path.join(' '));
  assert.match(outs[0].stdout, /^Instances\n  spawn <service\[:id\]> +Start a new instance of a service$/m);
});

test("no command's help shows clipanion's #0, and every command has a category of the index", () => {
  const known = ['Server', 'Instances', 'Deploying', 'Access', 'Moving on', 'Shell'];
  for (const c of commands) {
    const text = commandHelp(c);
    assert.doesNotMatch(text, /#\d/, text);
    assert.ok(known.includes(c.category), `ten ${c.path.join(' ')} has category ${c.category}`);
    // prose is wrapped at 80 columns (an example command is shown whole)
    for (const line of text.split('\n')) assert.ok(line.length <= 80 || line.startsWith('    $ ') || !line.includes(' ', 4), `over 80 columns: ${line}`);
  }
  assert.doesNotMatch(indexHelp(commands, '0.0.0'), /#\d/);
});

test('a typo of a command or an option gets "did you mean", exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['spwan', 'api'], /^error TEN_ERR_CLI_UNKNOWN_COMMAND: unknown command "spwan" \(did you mean `ten spawn`\?\)\n  hint: `ten help` lists every command\n$/],
    [['stat'], /^error TEN_ERR_CLI_UNKNOWN_COMMAND: unknown command "stat" \(did you mean `ten top` or `ten ps`\?\)\n/],
    [['help', 'spwan'], /^error TEN_ERR_CLI_UNKNOWN_COMMAND: unknown command "spwan" \(did you mean `ten spawn`\?\)\n/],
    [['xyzzy'], /^error TEN_ERR_CLI_UNKNOWN_COMMAND: unknown command "xyzzy"\n/],
    [['ps', '--jsn'], /^error TEN_ERR_CLI_UNKNOWN_OPTION: unknown option --jsn for `ten ps` \(did you mean --json\?\)\n/],
    [['spawn', 'api:a', '--no-wiat'], /^error TEN_ERR_CLI_UNKNOWN_OPTION: unknown option --no-wiat for `ten spawn` \(did you mean --no-wait\?\)\n/],
    [['ps', 'a', 'b'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: unexpected argument "b"\n  hint: usage: ten ps \[service\] \[options\] \(see `ten help ps`\)\n$/],
    [['deploy'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: missing <service\[:version\]>\n/],
    // found by the new-user trial of issue 12
    [['weight', 'api:prod'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: missing <0-100>\n/],
    [['export'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: `ten export` needs one more word\n  hint: the commands are `ten export kubernetes` \(see `ten help export`\)\n$/],
    [['export', 'kube'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: `ten export` has no command "kube" \(did you mean `ten export kubernetes`\?\)\n/],
    [['expor'], /^error TEN_ERR_CLI_UNKNOWN_COMMAND: unknown command "expor" \(did you mean `ten export kubernetes`\?\)\n/],
    [['rollout', 'abortt', 'api'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: unexpected argument "api" \(did you mean `ten rollout abort`\?\)\n/],
    // an option without its value (was clipanion's "Not enough arguments to option --domain.")
    [['install', '--domain', '-x.com', '--dry-run'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: --domain needs a value \(DOMAIN\): "-x\.com" reads as an option; write --domain=-x\.com if it is the value\n  hint: usage: ten install --domain DOMAIN \[options\]/],
    [['logs', '--since'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: --since needs a value \(TIME\)\n/],
    // found by the new-user trial of issue 13: after a positional it was `unexpected argument ""`;
    // a flag given a value, or a short option with its value attached, was clipanion's
    // `Invalid option name ("--json=yes").`
    [['logs', 'api', '--since'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: --since needs a value \(TIME\)\n  hint: usage: ten logs \[service\[:id\]\] \[options\]/],
    [['ps', 'api', '--server'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: --server needs a value \(URL\)\n/],
    [['logs', '-nf'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: -n needs a value \(N\), before -f\n/],
    [['ps', '--json=yes'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: --json is a flag and takes no value \("yes"\): write --json alone\n/],
    [['spawn', 'api:x', '--wait=no'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: --wait is a flag and takes no value \("no"\): write --wait or --no-wait\n/],
    [['logs', '-n5'], /^error TEN_ERR_CLI_INVALID_ARGUMENT: write -n 5, with a blank \(or --lines=5\)\n/],
    [['ps', '--jsn=1'], /^error TEN_ERR_CLI_UNKNOWN_OPTION: unknown option --jsn for `ten ps` \(did you mean --json\?\)\n/],
  ];
  for (const [args, want] of cases) {
    const r = await ten(args);
    assert.equal(r.code, 2, `ten ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want);
    assert.equal(r.stdout, '');
  }
});
