// GET /metrics for a tenant token (docs/access.md): the Prometheus text (format 0.0.4) cut down to
// the samples whose `instance` label is the tenant, each family with its # HELP and # TYPE lines
// only when it keeps a sample. Series without an `instance` label (ten serve's own process, the
// rollout series of a whole service) are an admin's only.

/** The value of label `name` in a sample line, or undefined (no labels, or not that one). Label
 *  values are read with their escapes (\\, \", \n) as the format writes them. */
export function labelOf(line: string, name: string): string | undefined {
  let i = line.indexOf('{');
  if (i < 0) return undefined;
  i += 1;
  while (i < line.length && line[i] !== '}') {
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') return undefined;
    const key = line.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\' && j + 1 < line.length) { j += 1; value += line[j] === 'n' ? '\n' : line[j]; } else value += line[j];
    }
    if (key === name) return value;
    i = j + 1;
    if (line[i] === ',') i += 1;
  }
  return undefined;
}

/** The lines of `text` (a whole exposition) a token of `tenant` may see. */
export function metricsOf(text: string, tenant: string): string {
  const out: string[] = [];
  let comments: string[] = [];
  let family = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) {
      const name = /^# (?:HELP|TYPE) (\S+)/.exec(line)?.[1];
      if (name !== undefined && name !== family) { family = name; comments = []; }
      comments.push(line);
    } else if (line !== '' && labelOf(line, 'instance') === tenant) {
      if (comments.length) { out.push(...comments); comments = []; }
      out.push(line);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
