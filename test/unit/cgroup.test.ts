// core/cgroup.ts on this host's real cgroups: the probe, an instance's cgroups with its limits
// written, a process that joins through tenement-init listed, emptied by killAll, the folders
// removed. Skipped, with the reason, where ten serve could not make cgroups (not root, no
// writable hierarchy) or tenement-init is not built.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cgroupTag, instanceCgroup, probeCgroups, releaseCgroups } from '../../core/cgroup.ts';
import { TenementError } from '../../core/errors.ts';
import { INIT_PATH } from '../../core/process.ts';

const tag = cgroupTag(`/tmp/cgroup-unit-test-${process.pid}`);
const support = probeCgroups(tag);
const why = !support.membership ? `no usable cgroup here: ${JSON.stringify(support.missing)}`
  : !existsSync(INIT_PATH) ? `${INIT_PATH} is not built (npm run build:init)` : undefined;

after(() => releaseCgroups(tag));

describe('cgroup', { skip: why }, () => {
  test('the probe names a membership hierarchy, and says why for what is missing', () => {
    assert.ok(support.membership!.dir.endsWith(tag));
    for (const [name, reason] of Object.entries(support.missing)) assert.ok(reason.length > 10, `${name}: ${reason}`);
  });

  test('limits are written to the controllers that enforce them; a missing controller is a TEN_ERR', async () => {
    const limits = { memory_limit_mb: support.controllers.memory ? 64 : undefined, pids_limit: support.controllers.pids ? 16 : undefined, cpu_limit: support.controllers.cpu ? 0.25 : undefined };
    const cg = instanceCgroup(support, 'svc.limits', limits);
    try {
      const mem = cg.dirOf('memory');
      if (mem) assert.equal(readFileSync(join(mem, support.controllers.memory!.v2 ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024));
      const pids = cg.dirOf('pids');
      if (pids) assert.equal(readFileSync(join(pids, 'pids.max'), 'utf8').trim(), '16');
      const cpu = cg.dirOf('cpu');
      if (cpu) {
        const text = support.controllers.cpu!.v2 ? readFileSync(join(cpu, 'cpu.max'), 'utf8').trim() : readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim();
        assert.match(text, /^25000( 100000)?$/, '0.25 of a core per 100 ms period');
      }
      // a reused cgroup without limits gets them lifted
      instanceCgroup(support, 'svc.limits', {});
      if (pids) assert.equal(readFileSync(join(pids, 'pids.max'), 'utf8').trim(), 'max');
    } finally {
      await cg.release();
    }
    for (const [key, controller] of [['memory_limit_mb', 'memory'], ['pids_limit', 'pids'], ['cpu_limit', 'cpu']] as const) {
      if (support.controllers[controller]) continue;
      assert.throws(() => instanceCgroup(support, 'svc.missing', { [key]: 1 }), (e: unknown) => e instanceof TenementError && e.code === 'TEN_ERR_ISOLATION_LIMIT_UNAVAILABLE');
    }
  });

  test('a process tree joined through tenement-init is listed, and killAll empties the cgroup, setsid escapees included', async () => {
    const cg = instanceCgroup(support, 'svc.tree', {});
    const child = spawn(INIT_PATH, [...cg.procsFiles.flatMap((f) => ['--join', f]), '--', '/bin/sh', '-c', 'setsid sleep 300 & sleep 300'], { stdio: 'ignore', detached: true });
    try {
      let pids: number[] = [];
      for (let i = 0; i < 100 && pids.length < 4; i++) { await new Promise((r) => setTimeout(r, 20)); pids = cg.pids(); }
      assert.ok(pids.includes(child.pid!), 'tenement-init itself is in it');
      assert.ok(pids.length >= 4, `init, sh and both sleeps: ${pids.join(' ')}`);
      await cg.killAll();
      assert.deepEqual(cg.pids(), []);
      for (const p of pids) assert.ok(!existsSync(`/proc/${p}/cmdline`) || readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z '), `pid ${p} is gone`);
    } finally {
      child.kill('SIGKILL');
      await cg.release();
    }
    assert.ok(!existsSync(cg.procsFiles[0]), 'its folders are removed once empty');
  });
});
