// The environment an instance's process gets: a few neutral variables from the supervisor
// (never its secrets), PORT and DATA_DIR, and the service's own env with placeholders filled.
import type { ServiceConfig } from './types.ts';

/** Variables passed through from ten serve's own environment; nothing else is inherited. */
export const PASSTHROUGH_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'] as const;

/** Replace {name} {id} {port} {data_dir}; unknown placeholders stay as written. */
export function interpolate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, key: string) => vars[key] ?? whole);
}

export function instanceEnv(svc: ServiceConfig, id: string, port: number, dataDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASSTHROUGH_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  const vars = { name: svc.name, id, port: String(port), data_dir: dataDir };
  for (const [k, v] of Object.entries(svc.env)) env[k] = interpolate(v, vars);
  env.PORT = String(port);
  env.DATA_DIR = dataDir;
  return env;
}
