// Names and labels of the exported Kubernetes objects. tenement's service names and instance ids
// are DNS labels (core/config-schema.ts DNS_LABEL), but Kubernetes asks more of some names: a
// Service's name is an RFC 1035 label (starts with a letter, at most 63 characters), and
// `{service}-{id}` can be longer than 63 or collide (`a-b` + `c` and `a` + `b-c`). These rules are
// the API server's (k8s.io/apimachinery/pkg/util/validation: IsDNS1035Label, IsDNS1123Subdomain,
// IsValidLabelValue), which the JSON schemas of kubernetes-models do not carry: validate.ts checks
// them with the regular expressions here.
import { createHash } from 'node:crypto';

/** RFC 1035 label, as Kubernetes checks Service names: `[a-z]([-a-z0-9]*[a-z0-9])?`, ≤ 63 chars. */
export const RFC1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RFC 1123 label (namespaces): `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63 chars. */
export const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RFC 1123 subdomain (Deployment, HTTPRoute, Secret names): dot-separated labels, ≤ 253 chars. */
export const RFC1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label value: empty, or ≤ 63 chars of `[A-Za-z0-9_.-]` starting and ending alphanumeric. */
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** The labels every exported object of an instance carries (and its Service selects on). */
export const LABEL_SERVICE = 'tenement.dev/service';
export const LABEL_INSTANCE = 'tenement.dev/instance';

/** `{tenement.dev/service: service, tenement.dev/instance: id}`; without `id`, the service's only. */
export function labels(service: string, id?: string): Record<string, string> {
  return id === undefined ? { [LABEL_SERVICE]: service } : { [LABEL_SERVICE]: service, [LABEL_INSTANCE]: id };
}

/** The fallback name of `key`: its wanted name cut to 54 characters, `-` and 8 hex digits of the
 *  SHA-1 of the key, with `t` in front when it would start with a digit: an RFC 1035 label. */
function hashed(key: string, wanted: string): string {
  const head = (/^[a-z]/.test(wanted) ? wanted : `t${wanted}`).slice(0, 54).replace(/-+$/, '');
  return `${head}-${createHash('sha1').update(key).digest('hex').slice(0, 8)}`;
}

/**
 * One object name per key (`service:id` for an instance, `service` for a service's route), all
 * RFC 1035 labels and all different: the wanted name (`{service}-{id}`, `{service}`) when it is a
 * valid label no other key wants, else the hashed fallback. Deterministic: the same keys always
 * get the same names. `wanted` maps key → wanted name.
 */
export function allocateNames(wanted: ReadonlyMap<string, string>): Map<string, string> {
  const count = new Map<string, number>();
  for (const name of wanted.values()) count.set(name, (count.get(name) ?? 0) + 1);
  const out = new Map<string, string>();
  for (const [key, name] of wanted) out.set(key, RFC1035_LABEL.test(name) && count.get(name) === 1 ? name : hashed(key, name));
  return out;
}
