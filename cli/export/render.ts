// The two forms `ten export kubernetes` writes: multi-document YAML (one object per document,
// separated by `---`, YAML 1.2 §9.2; the warnings as comments at the top) for `kubectl apply -f`,
// or with --json one v1 List, which kubectl reads too.
import { stringify } from 'yaml';
import type { Manifest } from './kubernetes.ts';

/** `objects` as YAML documents after `header` lines written as `# ` comments. Long strings are
 *  never folded (lineWidth 0): a regular expression stays on one line. */
export function toYaml(objects: readonly Manifest[], header: readonly string[]): string {
  const comments = header.map((line) => `# ${line}`.trimEnd()).join('\n');
  const docs = objects.map((o) => stringify(o.toJSON(), { lineWidth: 0 }));
  return `${comments}${comments ? '\n' : ''}${docs.map((d) => `---\n${d}`).join('')}`;
}

/** `objects` as a Kubernetes v1 List (`kubectl apply -f` takes it), pretty-printed. */
export function toJsonList(objects: readonly Manifest[]): string {
  return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects.map((o) => o.toJSON()) }, null, 2)}\n`;
}
