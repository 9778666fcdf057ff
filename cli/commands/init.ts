// `ten init`: writes a commented tenement.toml for the app in the current directory, from what its
// manifests say (cli/init-detect.ts) or from --command; never overwrites one. Needs no ten serve.
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'clipanion';
import { splitCommand } from '../../core/config.ts';
import { TenementError, tenErr } from '../../core/errors.ts';
import { blockedMessage, canUseDir, dirBlocked, nameOf } from '../../core/run-as.ts';
import { commandPlan, detectApp, type AppPlan } from '../init-detect.ts';
import { BOOT_IDS, planCommand, renderConfig } from '../init-toml.ts';
import { validateName } from '../instance-ref.ts';
import { BaseCommand } from './base.ts';

const DATA_DIR = './tenement-data';

/** What `ten init --json` prints (keys are only ever added). */
export interface InitReport {
  /** Absolute path of the file written. */
  file: string;
  service: string;
  /** Where the service's name comes from: `--name`, `package.json name "shop"`, `the folder "x"`. */
  name_from: string;
  /** What decided the command (`package.json scripts.start "node server.js"`, `--command`, ...). */
  source: string;
  argv: string[];
  env: Record<string, string>;
  workdir: string | null;
  health: string | null;
  port: number;
  notes: string[];
  /** Manifests found but not used. */
  also: string[];
  /** The instances ten serve starts at boot. */
  instances: string[];
  /** `user` written for the service (see runAs), or null. */
  user: string | null;
  /** What stops the file from running as is (printed on stderr too). */
  warnings: string[];
}

/**
 * Who the apps of the service in `workdir` run as, when ten serve's default would fail: as root,
 * ten serve runs them as `nobody` (core/process.ts appUser), and tenement-init refuses to start an
 * app whose user cannot read and enter its workdir (core/run-as.ts), e.g. an app under a 0700
 * home. Then the folder's owner runs them (`user`) when it is not root and can; else a warning
 * says what to do (move the app, chmod, or a user). Nothing when ten serve's default works.
 */
function runAs(workdir: string, service: string): Pick<AppPlan, 'user' | 'warnings'> {
  const root = process.getuid?.() === 0;
  const blocked = dirBlocked(workdir, root ? 'nobody' : null);
  if (!blocked) return {};
  const owner = fs.statSync(workdir).uid;
  const name = nameOf('passwd', owner) ?? String(owner);
  if (root && owner !== 0 && canUseDir(workdir, name) === true) {
    return { user: { name, why: `${blocked.user} (ten serve's default user as root) cannot read and enter ${workdir}; its owner ${name} can` } };
  }
  return { warnings: [`ten serve cannot start ${service} as written: ${blockedMessage(blocked, root)}`] };
}

export class InitCommand extends BaseCommand {
  static paths = [['init']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Write a tenement.toml for the app in the current directory',
    details: `
      Looks at the current directory for, in this order: a \`Procfile\` (its \`web:\` line), \`package.json\` (\`scripts.start\`, else \`node server.js\`, else \`node <main>\`), \`pyproject.toml\` or \`requirements.txt\` (\`python3 -u app.py\`, \`main.py\` or \`server.py\`, else the first \`[project.scripts]\` entry), \`go.mod\` (\`go run .\`) and \`Cargo.toml\` (\`cargo run --release\`), and writes a commented \`tenement.toml\` with one service named after the app and one instance, \`prod\`, started at boot. \`--name\` and \`--command\` override what it finds.

      tenement never runs a command through a shell. A start script that is a plain command is run as is (\`NAME=value\` words before it become \`env\`; in \`a && b && c\`, \`a\` and \`b\` are build steps to run once and \`c\` is the command; a leading \`cd DIR\` becomes \`workdir\`). One that needs a shell (pipes, redirections, \`$VAR\`) is run by \`npm start\` (package.json) or \`sh -c\` (Procfile), which have one.

      The health path is \`/health\` or \`/healthz\` when the app's entry file mentions it, else none (the probe connects to the port). Refuses to overwrite an existing file. The file passes \`ten config\` and runs with \`ten serve\` as is.
    `,
    examples: [
      ['Detect the app and write ./tenement.toml', '$0 init'],
      ['Name the service and give its command', '$0 init --name api --command "node dist/server.js"'],
      ['Serve on port 9000', '$0 init --port 9000'],
    ],
  });

  override config = Option.String('--config', { description: 'Where to write the file (default: ./tenement.toml)' });
  name = Option.String('--name', { description: 'Service name, a DNS label (default: the app\'s name, else the directory\'s)' });
  command = Option.String('--command', { description: 'The command that starts the app (default: detected)' });
  port = Option.String('--port', { description: 'settings.port, where ten serve listens (default: 8080)' });
  json = Option.Boolean('--json', false, { description: 'Print what was written as JSON' });

  async perform(): Promise<void> {
    const cwd = process.cwd();
    const name = this.name === undefined ? undefined : validateName('service', this.name);
    const port = this.port === undefined ? 8080 : Number(this.port);
    if (!/^\d{1,5}$/.test(this.port ?? '8080') || port < 1 || port > 65535) {
      throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --port ${JSON.stringify(this.port)}: must be a whole number from 1 to 65535`);
    }
    const file = path.resolve(cwd, this.config ?? 'tenement.toml');
    if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
      throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `--config ${this.config} is a folder: give the file to write, such as --config ${path.join(this.config ?? '.', 'tenement.toml')}`);
    }
    if (fs.lstatSync(file, { throwIfNoEntry: false })) throw new TenementError('TEN_ERR_INIT_EXISTS', [shownPath(cwd, file)], { file });
    const plan = this.command === undefined ? detectApp(cwd, name) : commandPlan(cwd, splitCommand(this.command, '--command'), name);
    // the app's folder as seen from the file's, when --config puts the file elsewhere
    const rel = path.relative(path.dirname(file), path.resolve(cwd, plan.workdir ?? '.'));
    const written: AppPlan = { ...plan, workdir: rel === '' ? undefined : rel, ...runAs(path.resolve(cwd, plan.workdir ?? '.'), plan.name) };
    try {
      fs.writeFileSync(file, renderConfig(written, { port, data_dir: DATA_DIR }), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new TenementError('TEN_ERR_INIT_EXISTS', [shownPath(cwd, file)], { file });
      throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `cannot write ${shownPath(cwd, file)}: ${(e as Error).message}`);
    }
    const report: InitReport = {
      file, service: plan.name, name_from: plan.nameFrom, source: plan.source, argv: plan.argv, env: plan.env, workdir: written.workdir ?? null,
      health: plan.health, port, notes: plan.notes, also: plan.also, instances: BOOT_IDS.map((id) => `${plan.name}:${id}`),
      user: written.user?.name ?? null, warnings: written.warnings ?? [],
    };
    if (this.json) this.outJson(report);
    else this.context.stdout.write(summary(report, shownPath(cwd, file), written));
    for (const w of report.warnings) this.context.stderr.write(`warning: ${w}\n`);
  }
}

/** `file` relative to the working directory when it is under it (`.` for that folder itself),
 *  else absolute. */
function shownPath(cwd: string, file: string): string {
  const rel = path.relative(cwd, file);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

function summary(r: InitReport, shownFile: string, plan: AppPlan): string {
  const flag = shownFile === 'tenement.toml' ? '' : ` --config ${shownFile}`;
  const lines = [
    `detected   ${r.source}`,
    `service    ${r.service}: ${planCommand(plan)}${r.workdir ? ` (in ${r.workdir})` : ''}`,
    // where the name comes from, when it is not the manifest that decided the command
    ...(r.name_from === '--name' || r.name_from.startsWith(`${r.source.split(' ')[0]} `) ? [] : [`name       ${r.service}, from ${r.name_from}`]),
    `health     ${r.health ? `GET ${r.health}` : 'no health path found: the probe connects to the port (set health in the file)'}`,
    ...(r.user ? [`user       ${r.user}: ${plan.user?.why ?? ''}`] : []),
    ...r.notes.map((n) => `note       ${n}`),
    ...(r.also.length > 0 ? [`also       ${r.also.join(', ')} (not used: the first found decides)`] : []),
    `wrote      ${shownFile}`,
    `next       ten config${flag}    check it`,
    `           ten serve${flag}     run it: ${r.instances.join(', ')} starts at boot`,
    `           curl -H 'Host: ${r.service}.localhost' localhost:${r.port}/`,
  ];
  return lines.join('\n') + '\n';
}
