// The environment an instance's process gets: a few neutral variables from the supervisor
// (never its secrets), PORT and DATA_DIR, and the service's own env with placeholders filled.
import type { ServiceConfig } from './types.ts';

/** Variables passed through from ten serve's own environment; nothing else is inherited. */
export const PASSTHROUGH_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'] as const;

/** Replace {name} {id} {port} {data_dir} {socket_path} (the keys of `vars`) in a service's env
 *  template; unknown placeholders stay as written. Also used by `ten export kubernetes`. */
export function interpolate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, key: string) => vars[key] ?? whole);
}

/** The instance's environment: PORT, SOCKET_PATH and DATA_DIR always (the app listens on one of
 *  the first two, as its service's `listen` says), and the service's env with placeholders filled. */
export function instanceEnv(svc: ServiceConfig, id: string, port: number, dataDir: string, socketPath: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASSTHROUGH_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  const vars = { name: svc.name, id, port: String(port), data_dir: dataDir, socket_path: socketPath };
  for (const [k, v] of Object.entries(svc.env)) env[k] = interpolate(v, vars);
  env.PORT = String(port);
  env.SOCKET_PATH = socketPath;
  env.DATA_DIR = dataDir;
  return env;
}
