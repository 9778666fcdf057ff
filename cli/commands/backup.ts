import { resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { BaseCommand } from './base.ts';

/** The data_dir of the config `--config` (or ./tenement.toml, $TENEMENT_CONFIG) names. */
async function dataDirOf(config: string | undefined): Promise<string> {
  const { loadConfig } = await import('../../core/config.ts');
  return loadConfig({ path: config, cwd: process.cwd(), env: process.env }).settings.data_dir;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

export class BackupCommand extends BaseCommand {
  static paths = [['backup']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Copy the store (instances, weights, tokens, plugins\' state) into one file',
    details: `
      Runs on the server host, while \`ten serve\` runs or not: SQLite's online backup API copies \`{data_dir}/tenement.db\` consistently while the server keeps writing, and every plugin's store (\`{data_dir}/plugins/*.db\`, e.g. the deploy history) is copied into the same file. Logs are not part of it. \`PATH\` must not exist. Put it back with \`ten restore\`.
    `,
    examples: [['Back up before an upgrade', '$0 backup /var/backups/tenement-2026-11-30.db']],
  });

  file = Option.String({ name: 'PATH' });
  json = Option.Boolean('--json', false, { description: 'Print what was written as JSON' });

  async perform(): Promise<void> {
    const { backupDataDir, withSize } = await import('../../core/backup.ts');
    const s = withSize(await backupDataDir(await dataDirOf(this.config), resolve(this.file)));
    if (this.json) return this.outJson(s);
    this.out(`backed up ${plural(s.instances, 'instance')}, ${plural(s.tokens, 'token')} and ${plural(s.pluginTables.length, 'plugin table')} to ${s.path} (${s.bytes} bytes)`);
  }
}

export class RestoreCommand extends BaseCommand {
  static paths = [['restore']];
  static usage = Command.Usage({
    category: 'Server',
    description: 'Put a backup made by `ten backup` back into the data dir',
    details: `
      Run it with \`ten serve\` stopped (it takes the data dir's lock, and refuses while a server holds it). The backup is checked first (SQLite's integrity check); the current \`tenement.db\` and plugin stores are kept beside, renamed \`*.before-restore-<time>\`. The next \`ten serve\` starts the restored instances with their weights.
    `,
    examples: [['Restore after a disk failure', '$0 restore /var/backups/tenement-2026-11-30.db']],
  });

  file = Option.String({ name: 'BACKUP' });
  json = Option.Boolean('--json', false, { description: 'Print what was restored as JSON' });

  async perform(): Promise<void> {
    const { restoreDataDir } = await import('../../core/backup.ts');
    const dataDir = await dataDirOf(this.config);
    const s = restoreDataDir(dataDir, resolve(this.file));
    if (this.json) return this.outJson({ ...s, dataDir });
    this.out(`restored ${plural(s.instances, 'instance')} and ${plural(s.tokens, 'token')} into ${dataDir}`);
    for (const f of s.keptAside) this.out(`  kept the previous ${f}`);
  }
}
