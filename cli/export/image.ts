// --image-template: the container image of each instance, `{service}` and `{id}` filled in.
import { tenErr } from '../../core/errors.ts';

/** The default: one image per service, tagged with the instance id (ids are often versions:
 *  v1, v2, blue, green — seed 000). */
export const DEFAULT_IMAGE_TEMPLATE = '{service}:{id}';

/** An image reference as the OCI distribution spec's reference grammar allows it
 *  (distribution/reference regexp.go): [registry[:port]/]path[:tag][@digest]. */
const IMAGE_REF = new RegExp(
  '^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?' +
  '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*' +
  '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$',
);

/**
 * `template` with `{service}` (or `{name}`, as in a service's env) and `{id}` replaced. Throws
 * TEN_ERR_EXPORT_UNSUPPORTED for another placeholder, or when the result is not an image
 * reference (IMAGE_REF).
 */
export function imageFor(template: string, service: string, id: string): string {
  const image = template.replace(/\{([a-z_]*)\}/g, (whole, key: string) => {
    if (key === 'service' || key === 'name') return service;
    if (key === 'id') return id;
    throw tenErr('TEN_ERR_EXPORT_UNSUPPORTED', `--image-template ${JSON.stringify(template)}`, `unknown placeholder ${whole}: use {service} and {id}`);
  });
  if (!IMAGE_REF.test(image)) {
    throw tenErr('TEN_ERR_EXPORT_UNSUPPORTED', `--image-template ${JSON.stringify(template)}`, `${JSON.stringify(image)} (for ${service}:${id}) is not an image reference like registry.example.com/${service}:${id}`);
  }
  return image;
}
