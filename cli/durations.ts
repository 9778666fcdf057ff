// Parsing of the values the workflow commands take (durations, rollout steps, ratios, counts, and
// `service:version`). Like instance-ref.ts, everything here runs before any request is sent; a bad
// value fails with TEN_ERR_CLI_INVALID_ARGUMENT (or TEN_ERR_API_INVALID_NAME for a bad name).
import { tenErr } from '../core/errors.ts';
import { parseRef } from './instance-ref.ts';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
/** `30`, `30s`, `1.5s`, `500ms`, `2m`, `1h`: a plain decimal number, then an optional unit. */
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;

/**
 * A duration in milliseconds, greater than 0. A bare number is in `bareUnit`: seconds for
 * --interval and --timeout, milliseconds for --max-p99. `option` names the flag in the error.
 */
export function parseDuration(raw: string, bareUnit: 'ms' | 's', option: string): number {
  const m = DURATION.exec(raw);
  const ms = m ? Number(m[1]) * UNIT_MS[(m[2] ?? bareUnit) as keyof typeof UNIT_MS] : NaN;
  if (!(ms > 0 && Number.isFinite(ms))) {
    const bare = bareUnit === 's' ? 'seconds' : 'milliseconds';
    throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid ${option} ${JSON.stringify(raw)}: expected a duration above 0 such as 500ms, 30s, 2m or 1h (a bare number is in ${bare})`);
  }
  return ms;
}

/** A duration in seconds, as the workflow API takes them (--interval, --timeout); may be fractional. */
export function parseSeconds(raw: string, option: string): number {
  return parseDuration(raw, 's', option) / 1000;
}

/** A duration in milliseconds (--max-p99). */
export function parseMilliseconds(raw: string, option: string): number {
  return parseDuration(raw, 'ms', option);
}

/** A whole number from min to max, written plainly (`5`; not `5.0`, `+5`, ` 5`). */
export function parseInteger(raw: string, option: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid ${option} ${JSON.stringify(raw)}: must be a whole number ${range}`);
  }
  return n;
}

/** A fraction from 0 to 1 (--max-error-rate 0.01 = 1 % of requests). */
export function parseRatio(raw: string, option: string): number {
  const n = /^(?:0|1)?(?:\.\d+)?$/.test(raw) && raw !== '' && raw !== '.' ? Number(raw) : NaN;
  if (!(n >= 0 && n <= 1)) {
    throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid ${option} ${JSON.stringify(raw)}: must be a fraction from 0 to 1, e.g. 0.01 for 1%`);
  }
  return n;
}

/**
 * Rollout steps: comma-separated traffic percentages for the new version, each a whole number
 * from 1 to 100, strictly increasing (`5,25,50,100`).
 */
export function parseSteps(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  const fail = (why: string) => tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --steps ${JSON.stringify(raw)}: ${why}`);
  const steps: number[] = [];
  for (const part of parts) {
    const n = /^\d{1,3}$/.test(part) ? Number(part) : NaN;
    if (!(n >= 1 && n <= 100)) throw fail(`${JSON.stringify(part)} is not a whole number from 1 to 100`);
    if (steps.length > 0 && n <= steps[steps.length - 1]!) throw fail(`steps must increase (${steps[steps.length - 1]} then ${n})`);
    steps.push(n);
  }
  return steps;
}

interface VersionRef {
  service: string;
  version: string;
  /** "service:version", the key of the instance the version runs as. */
  key: string;
}

/**
 * `api:v2`, or `api` together with `--version v2`; both must agree if both are given. The version
 * becomes the instance id, so it must be a DNS label too.
 */
export function parseVersionRef(ref: string, versionOption?: string): VersionRef {
  const { service, name: version } = parseRef(ref, versionOption, { noun: 'version', plural: 'versions', flag: '--version', meta: 'VERSION' });
  return { service, version, key: `${service}:${version}` };
}
