// The container environment of an exported instance: what tenement gives the process
// (core/spawn-env.ts instanceEnv) translated to a pod — PORT is the container port, DATA_DIR the
// mounted data volume, the service's env with {name} {id} {port} {data_dir} filled in — except
// that a variable that looks like a secret is never written out: it becomes a reference to a
// Kubernetes Secret the user creates (secretKeyRef), and its value stays on the server.
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { interpolate } from '../../core/spawn-env.ts';
import type { ServiceConfig } from '../../core/types.ts';

/** Names that say "secret": a whole `_`-separated word of the name (API_KEY, DB_PASSWORD,
 *  GITHUB_TOKEN, SESSION_SECRET, SENTRY_DSN, AWS_SECRET_ACCESS_KEY, ...). */
const SECRET_NAME = /(^|_)(SECRET|SECRETS|PASSWORD|PASSWD|PASS|PWD|TOKEN|TOKENS|KEY|KEYS|APIKEY|CREDENTIAL|CREDENTIALS|AUTH|DSN|SALT|PRIVATE|CERT)(_|$)/i;
/** A URL with a password in it (RFC 3986 §3.2.1 userinfo `user:password@`): DATABASE_URL and kin. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i;

/** True when env var `name` (or its template `value`) looks like it holds a secret. */
export function looksSecret(name: string, value: string): boolean {
  return SECRET_NAME.test(name) || URL_WITH_PASSWORD.test(value);
}

/**
 * `s` as a Kubernetes container `command`/`args` item or EnvVar `value` that the kubelet leaves as
 * it is: it expands `$(VAR_NAME)` there and reduces `$$` to `$` (Kubernetes API reference, Container
 * v1 `command`/`args` and EnvVar v1 `value`: "Double $$ are reduced to a single $, which allows for
 * escaping the $(VAR_NAME) syntax"). tenement never expands, so every `$` is written `$$`.
 */
export function k8sLiteral(s: string): string {
  return s.replaceAll('$', '$$$$'); // in a replacement string, '$$' is one '$'
}

/** Where the exported container keeps DATA_DIR (an emptyDir volume: deployment.ts). */
export const DATA_PATH = '/data';

export interface ExportedEnv {
  env: IEnvVar[];
  /** Names of the variables that became Secret references. */
  secrets: string[];
  /** Names whose template uses {socket_path}, which has no meaning in a pod. */
  socketPath: string[];
}

/**
 * The env of instance `id` of `svc` in a pod listening on `port`: the service's env (placeholders
 * filled as tenement fills them; {socket_path} left as written), then PORT and DATA_DIR, which win
 * as they do in instanceEnv. Variables that look secret (looksSecret) become
 * `valueFrom.secretKeyRef {name: secretName, key: NAME}`. Values are k8sLiteral: the pod sees
 * tenement's strings, `$(VAR)` and `$$` included. ten serve's PATH, HOME, LANG... are not
 * exported: the image sets its own.
 */
export function exportEnv(svc: ServiceConfig, id: string, port: number, secretName: string): ExportedEnv {
  const vars = { name: svc.name, id, port: String(port), data_dir: DATA_PATH };
  const env: IEnvVar[] = [];
  const secrets: string[] = [];
  const socketPath: string[] = [];
  for (const [name, template] of Object.entries(svc.env)) {
    if (name === 'PORT' || name === 'DATA_DIR' || name === 'SOCKET_PATH') continue; // tenement's win
    if (template.includes('{socket_path}')) socketPath.push(name);
    if (looksSecret(name, template)) {
      secrets.push(name);
      env.push({ name, valueFrom: { secretKeyRef: { name: secretName, key: name } } });
    } else {
      env.push({ name, value: k8sLiteral(interpolate(template, vars)) });
    }
  }
  env.push({ name: 'PORT', value: String(port) }, { name: 'DATA_DIR', value: DATA_PATH });
  return { env, secrets, socketPath };
}
