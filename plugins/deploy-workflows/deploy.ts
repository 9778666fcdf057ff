// ten deploy (spawn the new version at weight 0, wait healthy, then give it its weight), the
// rolling strategy (replace every instance batch by batch), and ten route (atomic swap).
import { asError, type Engine } from './engine.ts';
import type { Operation } from './journal.ts';
import { TenementError, type Instance } from '../../core/index.ts';

interface DeployParams { service: string; version: string; weight: number; timeout: number }
interface RollingParams { service: string; version: string; timeout: number; batch: number }

/** Deploy; on failure nothing but the new instance was touched, and it is gone again. */
export async function deploy(e: Engine, op: Operation, p: DeployParams): Promise<void> {
  try {
    e.step(op, `starting ${p.service}:${p.version} at weight 0`);
    const inst = await e.launch(p.service, p.version, p.timeout);
    e.step(op, `${inst.key} is healthy (pid ${inst.pid}, ${inst.port !== null ? `127.0.0.1:${inst.port}` : '-'})`);
    if (p.weight !== 0) {
      e.setWeights([[inst, p.weight]], `deploy ${inst.key}`);
      e.step(op, `${inst.key} weight 0 → ${p.weight}`);
    }
    e.journal.finish(op, 'succeeded');
    e.journal.record(p.service, 'deploy', 'ok', `deployed ${inst.key} at weight ${p.weight}`, { ...p, op: op.id });
  } catch (err) {
    if (e.closing) return; // shutting down: reported as interrupted at the next boot
    const te = asError(err, e);
    e.step(op, `deploy failed: ${te.message}; weights unchanged`);
    e.journal.finish(op, 'failed', te);
    e.journal.record(p.service, 'deploy', 'failed', `deploy of ${p.service}:${p.version} failed: ${te.message}`, { ...p, op: op.id, code: te.code });
  } finally {
    e.end(op);
  }
}

/**
 * Rolling: for each batch of old instances, start as many new ones (`<version>-<n>`) at weight 0,
 * wait until healthy, hand each the weight of the old one it replaces (one atomic step), then
 * drain and stop the old ones. Never fewer running instances than before (max unavailable 0).
 * A failure stops the rollout: stopped old instances are started again with their weights, and
 * the new ones are removed.
 */
export async function rolling(e: Engine, op: Operation, p: RollingParams): Promise<void> {
  const { registry } = e.ctx;
  const olds = registry.list(p.service);
  const replaced: Array<{ id: string; weight: number }> = [];
  const created: Instance[] = [];
  try {
    if (olds.length === 0) throw new TenementError('TEN_ERR_WORKFLOW_INVALID', ['rolling deploy', `service ${p.service} has no instances to replace`]);
    const batches = Math.ceil(olds.length / p.batch);
    e.step(op, `replacing ${olds.length} instance(s) of ${p.service} in ${batches} batch(es) of ${p.batch}`);
    for (let b = 0; b < batches; b++) {
      const batch = olds.slice(b * p.batch, (b + 1) * p.batch);
      const ids = batch.map((_, k) => `${p.version}-${b * p.batch + k + 1}`);
      e.step(op, `batch ${b + 1}/${batches}: starting ${ids.join(', ')}`);
      const launched = await Promise.allSettled(ids.map((id) => e.launch(p.service, id, p.timeout)));
      const news = launched.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      created.push(...news);
      const failed = launched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      e.setWeights(batch.flatMap((old, k) => [[news[k], old.weight] as const, [old, 0] as const]), `rolling ${op.id}`);
      e.step(op, `batch ${b + 1}/${batches}: ${batch.map((o, k) => `${o.id} → ${news[k].id} (weight ${news[k].weight})`).join(', ')}; draining the old`);
      for (const [k, old] of batch.entries()) {
        replaced.push({ id: old.id, weight: news[k].weight });
        await e.remove(old, `replaced by ${news[k].key}`);
      }
      e.step(op, `batch ${b + 1}/${batches}: stopped ${batch.map((o) => o.id).join(', ')}`);
    }
    e.journal.finish(op, 'succeeded');
    e.journal.record(p.service, 'rolling', 'ok', `rolled ${p.service} to ${p.version}: ${olds.map((o) => o.id).join(', ')} → ${created.map((c) => c.id).join(', ')}`, { ...p, op: op.id });
  } catch (err) {
    if (e.closing) return; // shutting down: reported as interrupted at the next boot
    const te = asError(err, e);
    e.step(op, `rolling deploy failed: ${te.message}; restoring the old instances`);
    te.details.restored = replaced.map((r) => r.id);
    await restore(e, p.service, replaced, created).catch((r) => e.ctx.log.error({ err: r }, 'restore after a failed rolling deploy failed'));
    e.step(op, 'old instances restored');
    e.journal.finish(op, 'failed', te);
    e.journal.record(p.service, 'rolling', 'failed', `rolling deploy of ${p.service} to ${p.version} failed: ${te.message}; old instances restored`, { ...p, op: op.id, code: te.code });
  } finally {
    e.end(op);
  }
}

/** Start the replaced old instances again (same ids and weights), then remove the new ones. */
async function restore(e: Engine, service: string, replaced: Array<{ id: string; weight: number }>, created: Instance[]): Promise<void> {
  const { registry, instances } = e.ctx;
  const back = replaced.map((r) => instances.create(service, r.id, 0));
  await Promise.all(back.map((i) => instances.start(i, 'rolling deploy rolled back')));
  e.setWeights([...back.map((i, k) => [i, replaced[k].weight] as const), ...created.map((c) => [c, 0] as const)], 'rolling rolled back');
  for (const c of created) if (registry.get(service, c.id) === c) await e.remove(c, 'rolling deploy rolled back');
}

/** ten route: `from` to 0 and `to` to 100 in one registry change. */
export function route(e: Engine, service: string, fromId: string, toId: string, force: boolean): Record<string, number> {
  const { registry } = e.ctx;
  const from = registry.require(service, fromId);
  const to = registry.require(service, toId);
  if (!force && !(to.state === 'running' && to.health === 'healthy')) {
    throw new TenementError('TEN_ERR_WORKFLOW_NOT_HEALTHY', [to.key, to.state === 'running' ? to.health : to.state]);
  }
  const before = { [from.id]: from.weight, [to.id]: to.weight };
  e.setWeights([[from, 0], [to, 100]], `route ${from.id} → ${to.id}`);
  e.journal.record(service, 'route', 'ok', `routed ${service} from ${from.id} to ${to.id}${force ? ' (forced)' : ''}`, { from: from.id, to: to.id, before });
  return Object.fromEntries(registry.list(service).map((i) => [i.id, i.weight]));
}
