// Parsing and validation of what users type for instances, services and weights. Everything here
// runs before any request is sent, so a bad name never reaches the server.
import { DNS_LABEL } from '../core/config-schema.ts';
import { TenementError, tenErr } from '../core/errors.ts';

export interface InstanceRef {
  service: string;
  id: string;
  /** "service:id" */
  key: string;
}

/** Returns the name if it is a DNS label, else throws TEN_ERR_API_INVALID_NAME. */
export function validateName(kind: 'service' | 'instance id', value: string): string {
  if (!DNS_LABEL.test(value)) throw new TenementError('TEN_ERR_API_INVALID_NAME', [kind, JSON.stringify(value)], { [kind === 'service' ? 'service' : 'id']: value });
  return value;
}

/** How a `service:x` reference names its second part, for the messages. */
interface RefPart { noun: string; plural: string; flag: string; meta: string }

/**
 * `service:x`, or `service` together with `flag x`; both must agree if both are given. `x`
 * becomes an instance id, so it must be a DNS label too.
 */
export function parseRef(ref: string, option: string | undefined, part: RefPart): { service: string; name: string } {
  const colon = ref.indexOf(':');
  const service = colon === -1 ? ref : ref.slice(0, colon);
  let name = colon === -1 ? undefined : ref.slice(colon + 1);
  validateName('service', service);
  if (option !== undefined) {
    if (name !== undefined && name !== option) {
      throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `conflicting ${part.plural}: ${JSON.stringify(ref)} and ${part.flag} ${JSON.stringify(option)}`);
    }
    name = option;
  }
  if (name === undefined) {
    throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `missing ${part.noun} for ${JSON.stringify(service)}: write ${service}:${part.meta} or ${service} ${part.flag} ${part.meta}`);
  }
  validateName('instance id', name);
  return { service, name };
}

/**
 * Parses `api:v1`, or `api` together with `--id v1` (both forms are in the docs). Giving the id
 * twice is allowed only if both agree.
 */
export function parseInstanceRef(ref: string, idOption?: string): InstanceRef {
  const { service, name: id } = parseRef(ref, idOption, { noun: 'instance id', plural: 'instance ids', flag: '--id', meta: 'ID' });
  return { service, id, key: `${service}:${id}` };
}

/** A whole number from 0 to 100, written plainly ("80"; not "80.0", "+80", " 80"). */
export function parseWeight(raw: string): number {
  const n = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0 && n <= 100)) throw new TenementError('TEN_ERR_API_INVALID_WEIGHT', [JSON.stringify(raw)]);
  return n;
}

/** URL path of one instance in the management API. */
export function instancePath(ref: InstanceRef): string {
  return `/api/instances/${encodeURIComponent(ref.service)}/${encodeURIComponent(ref.id)}`;
}
