// The check every exported object passes before anything is written (and the one the tests run on
// the parsed YAML): its model's .validate() — the JSON schema of its kind, from the Kubernetes
// OpenAPI spec (kubernetes-models 4.5) or the Gateway API v1.0 CRDs (@kubernetes-models/
// gateway-api 0.5), run by ajv — and then the API server's own rules the schemas do not carry:
// metadata names (names.ts) and label values. What neither checks (Gateway API's CEL rules, a
// cluster's admission webhooks) `kubectl apply --dry-run=server` does, against a cluster.
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';
import { TenementError } from '../../core/errors.ts';
import type { Manifest } from './kubernetes.ts';
import { LABEL_VALUE, RFC1035_LABEL, RFC1123_LABEL, RFC1123_SUBDOMAIN } from './names.ts';

/** The kinds ten export writes, by `apiVersion/kind`, with the rule their names follow
 *  (k8s.io/kubernetes pkg/apis/core/validation: Service names are DNS-1035 labels). */
const KINDS = {
  'apps/v1/Deployment': { model: Deployment, name: RFC1123_SUBDOMAIN, rule: 'an RFC 1123 subdomain' },
  'v1/Service': { model: Service, name: RFC1035_LABEL, rule: 'an RFC 1035 label (a-z first, at most 63 characters)' },
  'gateway.networking.k8s.io/v1/HTTPRoute': { model: HTTPRoute, name: RFC1123_SUBDOMAIN, rule: 'an RFC 1123 subdomain' },
} as const;
type KindKey = keyof typeof KINDS;

/** `apiVersion/kind` of a plain object, if it is one of KINDS. */
function kindOf(o: { apiVersion?: unknown; kind?: unknown }): KindKey | undefined {
  const key = `${String(o.apiVersion)}/${String(o.kind)}`;
  return Object.hasOwn(KINDS, key) ? key as KindKey : undefined;
}

/** The model of a plain object read back from YAML or JSON (for validateManifest). Throws
 *  TEN_ERR_EXPORT_INVALID for a kind ten export does not write. */
export function modelOf(o: Record<string, unknown>): Manifest {
  const key = kindOf(o);
  if (!key) throw new TenementError('TEN_ERR_EXPORT_INVALID', [`${String(o.apiVersion)} ${String(o.kind)}`, 'not a kind ten export writes']);
  // the model constructors take their own interface; the object is checked by validate() next
  return new (KINDS[key].model as unknown as new (d: unknown) => Manifest)(o);
}

/**
 * Throws TEN_ERR_EXPORT_INVALID ("the exported <Kind> <name> is not valid: <why>") unless `m`
 * passes its schema, its name follows its kind's rule, its namespace is an RFC 1123 label, and its
 * label values are valid.
 */
export function validateManifest(m: Manifest): void {
  const meta = m.metadata ?? {};
  const key = kindOf(m);
  const what = `${String(m.kind)} ${meta.name ?? '(no name)'}`;
  const fail = (why: string): never => { throw new TenementError('TEN_ERR_EXPORT_INVALID', [what, why]); };
  if (!key) return fail('not a kind ten export writes');
  try {
    m.validate();
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (meta.name === undefined || !KINDS[key].name.test(meta.name)) fail(`metadata.name must be ${KINDS[key].rule}`);
  if (meta.namespace !== undefined && !RFC1123_LABEL.test(meta.namespace)) fail('metadata.namespace must be an RFC 1123 label');
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    if (!LABEL_VALUE.test(v)) fail(`label ${k}: ${JSON.stringify(v)} is not a label value (at most 63 of A-Z a-z 0-9 - _ ., alphanumeric at both ends)`);
  }
}
