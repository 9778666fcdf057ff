// Summary of a V8 CPU profile (`node --cpu-prof`): self time per function and per area (tenement's
// own code, its plugins, undici, http-proxy-3, Node's internals, GC), as a share of the busy time
// (all samples but idle). Used by bench/proxy.ts when PROXY_CPU_PROF=1.
import { readFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  top: Array<{ fn: string; where: string; selfMs: number; share: number }>;
  areas: Array<{ area: string; selfMs: number; share: number }>;
}

/** Where a frame's code lives, in words. */
function areaOf(url: string, fn: string, root: string): string {
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(program)') return '(program): V8/native, not attributed to JS';
  if (url.startsWith('node:')) return 'Node internals (http, net, streams, …)';
  const rel = url.replace(/^file:\/\//, '');
  if (rel.includes('/node_modules/')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(rel);
    return `node_modules/${m?.[1] ?? '?'}`;
  }
  if (rel.startsWith(`${root}/core/`)) return 'tenement core/';
  if (rel.startsWith(`${root}/plugins/`)) return 'tenement plugins/';
  if (rel.startsWith(`${root}/`)) return `tenement ${rel.slice(root.length + 1).split('/')[0]}/`;
  return url === '' ? 'native code (syscalls such as writev, V8 builtins)' : 'other';
}

export function summariseProfile(path: string, root: string, topN = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attribute it to the sample's node
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  let idleUs = 0;
  const fns = new Map<string, { fn: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') { idleUs += us; continue; }
    const fn = functionName || '(anonymous)';
    const where = url ? `${url.replace(/^file:\/\//, '').replace(`${root}/`, '')}:${lineNumber + 1}` : '';
    const key = `${fn} ${where}`;
    const e = fns.get(key) ?? { fn, where, us: 0 };
    e.us += us;
    fns.set(key, e);
    const a = areaOf(url, functionName, root);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const busyUs = [...fns.values()].reduce((s, e) => s + e.us, 0) || 1;
  return {
    busyMs: busyUs / 1000, idleMs: idleUs / 1000,
    top: [...fns.values()].sort((a, b) => b.us - a.us).slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, selfMs: e.us / 1000, share: e.us / busyUs })),
    areas: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfMs: us / 1000, share: us / busyUs })),
  };
}

/** The summary as markdown tables. */
export function profileMarkdown(s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return [
    `Busy ${(s.busyMs / 1000).toFixed(1)} s (idle ${(s.idleMs / 1000).toFixed(1)} s not counted).`, '',
    '| area | self time | share of busy |', '|---|---|---|',
    ...s.areas.map((a) => `| ${a.area} | ${(a.selfMs / 1000).toFixed(2)} s | ${pct(a.share)} |`), '',
    '| function | where | self time | share of busy |', '|---|---|---|---|',
    ...s.top.map((t) => `| \`${t.fn}\` | ${t.where || '—'} | ${(t.selfMs / 1000).toFixed(2)} s | ${pct(t.share)} |`),
  ].join('\n');
}
