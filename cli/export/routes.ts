// tenement's routing as Gateway API HTTPRoutes (gateway.networking.k8s.io/v1, Gateway API v1.0):
// - `{id}.{service}.{domain}` → that instance: one HTTPRoute per instance host, because an
//   HTTPRoute's `hostnames` belong to the whole route (its rules cannot match on the host);
// - `{service}.{domain}` → weighted across the instances: one rule whose backendRefs carry
//   tenement's weights unchanged (Gateway API weights are proportions, like tenement's);
// - header / cookie targeting (deploy-workflows' target_header, target_cookie) → one rule per
//   instance ahead of it, matching the header exactly or the cookie by a regular expression on the
//   Cookie header (Gateway API v1.0 has no cookie match). A rule with a header match outranks the
//   rule with none (HTTPRoute spec.rules[].matches: precedence by number of header matches);
// - shadow traffic → a RequestMirror filter to the shadow instance's Service.
// Limits of the schema: 16 rules per route and 16 backendRefs per rule; targeting rules beyond 15
// go to more routes on the same hostname (`{route}.targeting-2`, ...), which a Gateway merges.
import { HTTPRoute, type IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { tenErr } from '../../core/errors.ts';
import { labels } from './names.ts';

type Rule = NonNullable<IHTTPRoute['spec']['rules']>[number];
type Filter = NonNullable<Rule['filters']>[number];

/** Per route and per rule, as the HTTPRoute schema's maxItems say. */
const MAX_RULES = 16;
const MAX_BACKENDS = 16;

export interface RouteInstance {
  id: string;
  /** Its Service's name (names.ts allocateNames). */
  name: string;
  /** tenement's weight, 0 to 100, as `ten ps` shows it. */
  weight: number;
}

export interface RouteParams {
  service: string;
  domain: string;
  namespace?: string;
  /** The Gateway the routes attach to. */
  gateway: { name: string; namespace?: string };
  /** The name of the `{service}.{domain}` route. */
  routeName: string;
  instances: readonly RouteInstance[];
  servicePort: number;
  /** deploy-workflows' targeting header (lowercase) and cookie; undefined: no targeting rules. */
  targeting?: { header: string; cookie: string };
  /** The instance an active shadow mirrors the service's requests to. */
  mirror?: RouteInstance;
}

/** `s` with every regular-expression metacharacter escaped (RE2, PCRE and POSIX ERE agree on
 *  these; `-` is left alone: outside a bracket it is no metacharacter in any of them). */
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A Cookie header that carries `name=value` as one of its pairs (RFC 6265 §4.2.1: pairs joined
 *  by "; "; spaces counted with ` *`, not `\s`, which POSIX ERE lacks). */
export function cookieRegex(name: string, value: string): string {
  return `(^|; *)${escapeRe(name)}=${escapeRe(value)}(;|$)`;
}

function route(p: RouteParams, name: string, hostname: string, rules: Rule[], id?: string): HTTPRoute {
  return new HTTPRoute({
    metadata: { name, ...(p.namespace === undefined ? {} : { namespace: p.namespace }), labels: labels(p.service, id) },
    spec: {
      parentRefs: [{ name: p.gateway.name, ...(p.gateway.namespace === undefined ? {} : { namespace: p.gateway.namespace }) }],
      hostnames: [hostname],
      rules,
    },
  });
}

/**
 * The routes of one service: one per instance host, then the `{service}.{domain}` route(s).
 * `warnings` says what was changed to fit (zero-weight backends left out beyond 16 instances).
 * Throws TEN_ERR_EXPORT_UNSUPPORTED when more than 16 instances have a weight above 0.
 */
export function serviceRoutes(p: RouteParams): { routes: HTTPRoute[]; warnings: string[] } {
  const warnings: string[] = [];
  const ref = (i: RouteInstance) => ({ name: i.name, port: p.servicePort });
  const mirrorTo = (i?: RouteInstance): Filter[] =>
    p.mirror && p.mirror.id !== i?.id ? [{ type: 'RequestMirror', requestMirror: { backendRef: ref(p.mirror) } }] : [];
  const withFilters = (rule: Rule, filters: Filter[]): Rule => (filters.length === 0 ? rule : { ...rule, filters });

  const routes = p.instances.map((i) => route(p, i.name, `${i.id}.${p.service}.${p.domain}`, [withFilters({ backendRefs: [ref(i)] }, mirrorTo(i))], i.id));

  let weighted = [...p.instances];
  if (weighted.length > MAX_BACKENDS) {
    weighted = weighted.filter((i) => i.weight > 0);
    if (weighted.length > MAX_BACKENDS) {
      throw tenErr('TEN_ERR_EXPORT_UNSUPPORTED', `${p.service}.${p.domain}`, `${weighted.length} instances have a weight above 0, and a Gateway API rule takes at most ${MAX_BACKENDS} backends: set weight 0 on the instances reached only by their own host`);
    }
    warnings.push(`${p.service}: ${p.instances.length - weighted.length} instances with weight 0 are left out of the ${p.service}.${p.domain} backends (a rule takes at most ${MAX_BACKENDS}); their own hosts still reach them`);
  }
  const balanced = withFilters({ backendRefs: weighted.map((i) => ({ ...ref(i), weight: i.weight })) }, mirrorTo());

  const t = p.targeting;
  const targeted: Rule[] = t === undefined ? [] : p.instances.map((i) => withFilters({
    matches: [
      { headers: [{ type: 'Exact', name: t.header, value: i.id }] },
      { headers: [{ type: 'RegularExpression', name: 'Cookie', value: cookieRegex(t.cookie, i.id) }] },
    ],
    backendRefs: [ref(i)],
  }, mirrorTo(i)));
  const host = `${p.service}.${p.domain}`;
  routes.push(route(p, p.routeName, host, [...targeted.slice(0, MAX_RULES - 1), balanced]));
  for (let k = MAX_RULES - 1, n = 2; k < targeted.length; k += MAX_RULES, n++) {
    routes.push(route(p, `${p.routeName}.targeting-${n}`, host, targeted.slice(k, k + MAX_RULES)));
  }
  return { routes, warnings };
}
