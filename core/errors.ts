// The one error catalog. Every failure a user can cause has a code here, a one-line message that
// says what happened, and a hint that says what to do. docs/errors.md mirrors this table; a test
// keeps the two in sync. Modelled on fastify's lib/errors.js: define once, construct by code.

export interface ErrorDef {
  /** HTTP status when the error crosses the management API or the proxy. */
  status: number;
  /** printf-style message: each %s is replaced by one argument, in order. */
  message: string;
  /** What the user should do about it. */
  hint: string;
}

const def = (status: number, message: string, hint: string): ErrorDef => ({ status, message, hint });

export const ERRORS = {
  // config
  TEN_ERR_CONFIG_NOT_FOUND: def(500, 'config file not found: %s', 'create tenement.toml in the working directory, or pass --config PATH / set TENEMENT_CONFIG'),
  TEN_ERR_CONFIG_PARSE: def(500, 'invalid TOML in %s: %s', 'fix the syntax at the line shown'),
  TEN_ERR_CONFIG_UNKNOWN_KEY: def(500, 'unknown key %s%s', 'remove the key or fix its spelling (see docs/configuration.md)'),
  TEN_ERR_CONFIG_INVALID_TYPE: def(500, '%s must be %s', 'change the value to the type shown (see docs/configuration.md)'),
  TEN_ERR_CONFIG_OUT_OF_RANGE: def(500, '%s %s', 'pick a value inside the range shown'),
  TEN_ERR_CONFIG_INVALID_VALUE: def(500, '%s %s', 'see docs/configuration.md for the accepted values'),
  TEN_ERR_CONFIG_MISSING_KEY: def(500, '%s is required', 'add the key shown'),
  TEN_ERR_CONFIG_COMMAND: def(500, '%s: %s', 'commands are split like a shell would but never run through one: drop pipes, redirects and ;, or use args = [...]'),
  // config reload (ten reload, SIGHUP: core/reload.ts)
  TEN_ERR_RELOAD_INVALID: def(422, '%s was not reloaded, the config in force stays (%s):%s', 'fix what is listed (`ten config` checks the file without touching the server), then reload again'),
  TEN_ERR_RELOAD_BUSY: def(409, 'cannot reload now: %s', 'wait until it is done, then reload again'),
  TEN_ERR_RELOAD_NO_FILE: def(409, 'cannot reload: this ten serve was not started from a config file', 'start ten serve with a tenement.toml (--config PATH) to reload it'),
  // plugins
  TEN_ERR_PLUGIN_NOT_FOUND: def(500, 'plugin %s not found (%s)', 'use a built-in name, a path starting with ./ relative to tenement.toml, or an installed npm package'),
  TEN_ERR_PLUGIN_INVALID_EXPORT: def(500, 'plugin %s has an invalid export: %s', 'fix what the message names: a plugin module default-exports definePlugin({ name, create }) and imports only from \'tenement\' (see docs/plugins.md)'),
  TEN_ERR_PLUGIN_UNKNOWN_SLOT: def(500, 'unknown plugin slot %s', 'slots are: balancer, isolation, scaler, workflows, metrics, dashboard, extra'),
  TEN_ERR_PLUGIN_SLOT_MISMATCH: def(500, 'plugin %s %s, not %s', 'put the plugin under [plugins.<slot it provides>], or under [[plugins.extra]] if it provides none'),
  TEN_ERR_PLUGIN_SLOT_TAKEN: def(500, 'slot %s is already filled by %s; %s cannot fill it too', 'pick the plugin with [plugins.<slot>] use = "...", not under [[plugins.extra]]'),
  TEN_ERR_PLUGIN_DUPLICATE_NAME: def(500, 'two plugins are named %s', 'load each plugin once; give third-party plugins unique names'),
  TEN_ERR_PLUGIN_INVALID_OPTIONS: def(500, 'invalid options for plugin %s: %s', 'fix the option shown (see the plugin\'s docs page)'),
  TEN_ERR_PLUGIN_LOAD_TIMEOUT: def(500, 'plugin %s took longer than %s ms to load', 'make the plugin\'s create()/apply() return promptly; do slow work in the ready hook'),
  TEN_ERR_PLUGIN_DEPENDENCY_MISSING: def(500, 'plugin %s needs plugin %s, which is not loaded', 'load the plugin it needs too (a slot table or [[plugins.extra]]), or remove this one'),
  TEN_ERR_PLUGIN_FORBIDDEN: def(500, 'plugin %s may not %s', 'plugins tap hooks under their own name (ctx.name), read instances through ctx.registry and change them through ctx.instances (see docs/plugins.md)'),
  TEN_ERR_PLUGIN_FAILED: def(500, 'plugin %s failed in %s: %s', 'fix or remove the plugin; failures in notification hooks are logged and skipped, elsewhere the request or startup fails'),
  // management API
  TEN_ERR_API_UNAUTHORIZED: def(401, 'missing or invalid API token', 'pass --token, set TENEMENT_TOKEN, or run on the server host so {data_dir}/api_token can be read; an expired or revoked token is invalid (ten token list)'),
  TEN_ERR_API_FORBIDDEN: def(403, 'the token of tenant %s may not %s', 'a tenant token reaches only the instances whose id is its tenant, and their logs and metrics (docs/access.md); ask an admin for the rest'),
  TEN_ERR_API_THROTTLED: def(429, 'too many failed authentications from %s: try again in %s s', 'wait for the Retry-After seconds, then send a valid token (auth_fail_limit and auth_fail_window under [settings])'),
  TEN_ERR_API_ELSEWHERE: def(404, 'the management API does not answer on this listener', 'it listens on [settings] api_listen: run ten on the server host (it reads api_listen from tenement.toml) or pass --server'),
  TEN_ERR_API_BAD_REQUEST: def(400, 'invalid request: %s', 'fix the request body or parameters shown'),
  TEN_ERR_API_NOT_FOUND: def(404, 'no API route %s %s', 'see docs/cli.md for the API routes'),
  TEN_ERR_API_INVALID_NAME: def(400, 'invalid %s %s: must be a DNS label (a-z, 0-9, -; 1 to 63 chars; no leading or trailing -)', 'use lowercase letters, digits and dashes, e.g. v2 or prod-1'),
  TEN_ERR_API_INVALID_WEIGHT: def(400, 'invalid weight %s: must be a whole number from 0 to 100', 'pass a weight from 0 (no traffic) to 100'),
  TEN_ERR_API_BODY_TOO_LARGE: def(413, 'request body larger than %s bytes', 'send a smaller body'),
  TEN_ERR_LOGS_DAMAGED: def(500, 'the log store %s is damaged: %s', 'stop ten serve and move logs.db aside (the next start creates a new one; a damaged file found at start is moved aside by itself)'),
  TEN_ERR_LOGS_TOO_MANY_FOLLOWERS: def(503, 'too many live log streams open (%s)', 'close a `ten logs -f` or a dashboard tab, then try again'),
  TEN_ERR_METRICS_TOO_MANY_STREAMS: def(503, 'too many live stats streams open (%s)', 'close a `ten top` or a dashboard tab, then try again'),
  TEN_ERR_API_INTERNAL: def(500, 'internal error', 'see the ten serve log for the cause'),
  // tokens (docs/access.md)
  TEN_ERR_TOKEN_NOT_FOUND: def(404, 'no token %s', 'list the tokens with `ten token list`'),
  TEN_ERR_TOKEN_PROTECTED: def(409, 'the admin token of {data_dir}/api_token cannot be revoked', 'to replace it, delete the file and restart ten serve (a new one is written)'),
  TEN_ERR_TOKEN_TOO_MANY: def(409, 'there are already %s tokens, the most ten serve keeps', 'revoke tokens no longer used (`ten token list`, `ten token revoke ID`)'),
  // instances
  TEN_ERR_INSTANCE_NOT_FOUND: def(404, 'instance %s not found', 'list instances with `ten ps`'),
  TEN_ERR_INSTANCE_EXISTS: def(409, 'instance %s already exists', 'pick another --id, or `ten restart` the existing one'),
  TEN_ERR_INSTANCE_UNKNOWN_SERVICE: def(404, 'service %s is not defined in tenement.toml%s', 'add [service.%s] to tenement.toml, or check the spelling'),
  TEN_ERR_INSTANCE_RUNNING: def(409, 'instance %s still has a process (it is %s)', 'stop it first, then remove it'),
  TEN_ERR_INSTANCE_SPAWN_FAILED: def(500, 'could not start %s: %s', 'check the service command and workdir, and the instance log'),
  // isolation and containment (docs/isolation.md)
  TEN_ERR_ISOLATION_INIT_MISSING: def(500, 'tenement-init is not built (%s)', 'install a C compiler (apt install gcc) and run `npm run build:init` in the tenement folder'),
  TEN_ERR_ISOLATION_NOT_ROOT: def(500, '%s sets user or group, but ten serve runs as uid %s, not root', 'run ten serve as root (ten serve can then run each app as its own user), or remove user and group'),
  TEN_ERR_ISOLATION_LIMIT_UNAVAILABLE: def(500, 'cannot apply %s on this host: %s', 'run `ten doctor` to see what this host supports; give ten serve a cgroup (run it as root, or as a systemd service with Delegate=yes), or remove the limit'),
  TEN_ERR_ISOLATION_UNAVAILABLE: def(500, 'isolation level %s cannot run on this host: %s', 'run `ten doctor` to see which levels work here and why, then install what it names or pick another level'),
  TEN_ERR_ISOLATION_DAEMONIZED: def(500, 'the app daemonized: its main process exited and left %s process(es) running, which tenement stopped', 'run the app in the foreground (no --daemon, no fork-and-exit); tenement supervises the process it starts'),
  // routing / proxy
  TEN_ERR_ROUTE_UNKNOWN_SERVICE: def(404, 'no service %s', 'check the host name: {id}.{service}.{domain} or {service}.{domain}'),
  TEN_ERR_ROUTE_UNKNOWN_INSTANCE: def(404, 'no instance %s', 'list instances with `ten ps`'),
  TEN_ERR_ROUTE_NO_INSTANCE: def(503, 'no running instance of %s%s', 'spawn one or give one a weight above 0; retry after a moment'),
  TEN_ERR_ROUTE_UPSTREAM_UNREACHABLE: def(502, 'instance %s did not answer (%s)', 'the app crashed or refused the connection; it is being restarted, retry'),
  TEN_ERR_ROUTE_UPSTREAM_TIMEOUT: def(504, 'instance %s did not respond within %s s', 'raise request_timeout for the service, or make the app respond sooner'),
  TEN_ERR_ROUTE_UPSTREAM_FAILED: def(502, 'instance %s closed the connection before answering (%s)', 'the app crashed or dropped the request; check its log (ten logs <service>:<id>) and retry'),
  TEN_ERR_ROUTE_QUEUE_FULL: def(503, 'instance %s is busy: %s requests in progress and %s waiting', 'retry after a moment; raise max_connections / max_queue for the service if the app can take more'),
  TEN_ERR_ROUTE_QUEUE_TIMEOUT: def(503, 'instance %s had no free connection within %s s (max_connections = %s)', 'retry after a moment; raise queue_timeout or max_connections for the service, or make the app answer sooner'),
  TEN_ERR_ROUTE_OVERLOADED: def(503, 'ten serve is at max_requests = %s requests in flight', 'retry after a moment; raise [settings] max_requests if the machine can take more'),
  // HTTP: requests tenement refuses before routing (RFC 9110 §15.5, RFC 9112 §3, RFC 6585 §5)
  TEN_ERR_HTTP_BAD_REQUEST: def(400, 'bad request: %s', 'send a well-formed HTTP/1.1 request with exactly one valid Host header'),
  TEN_ERR_HTTP_REQUEST_TIMEOUT: def(408, 'the request was not received in time (%s)', 'send the request head within client_header_timeout and keep the body flowing (client_body_timeout)'),
  TEN_ERR_HTTP_URI_TOO_LONG: def(414, 'the request target is longer than %s bytes', 'send a shorter URL (or raise [settings] max_uri_length)'),
  TEN_ERR_HTTP_HEADERS_TOO_LARGE: def(431, 'the request head is larger than %s bytes', 'send fewer or smaller headers (or raise [settings] max_header_size)'),
  TEN_ERR_HTTP_NOT_IMPLEMENTED: def(501, 'transfer coding %s is not supported', 'send the body with Content-Length, or chunked without other codings (use Content-Encoding for compression)'),
  TEN_ERR_HTTP_METHOD_NOT_ALLOWED: def(405, '%s is not supported: tenement is a reverse proxy, not a forward proxy', 'send the request to the service host itself'),
  // scaler (idle-scaler)
  TEN_ERR_SCALER_WAKE_TIMEOUT: def(503, '%s was not ready within %s s', 'retry after a moment; if the app starts slowly, raise wait_timeout under [plugins.scaler]'),
  TEN_ERR_SCALER_WAKE_FAILED: def(503, '%s failed to start: %s', 'check the instance log (ten logs <service>:<id>); the next request tries again'),
  TEN_ERR_SCALER_QUEUE_FULL: def(503, 'too many requests waiting for %s (%s)', 'retry after a moment; raise queue_size under [plugins.scaler] if bursts are expected'),
  TEN_ERR_SCALER_MAX_INSTANCES: def(503, 'service %s already has max_instances = %s live instances and none that a request made is free to put to sleep', 'retry after a moment; stop unused instances or raise max_instances for the service'),
  // scaler: creation on request (spawn_on_request), per client address and per id (docs/plugins/idle-scaler.md)
  TEN_ERR_SCALER_SPAWN_RATE: def(429, '%s created %s instances of %s in the last %s s (spawn_rate)', 'retry after the seconds in Retry-After; raise spawn_rate or shorten spawn_rate_window for the service if clients legitimately create more'),
  TEN_ERR_SCALER_SPAWN_CLIENTS: def(429, 'too many client addresses are creating instances at once (max_clients = %s)', 'retry after the seconds in Retry-After; raise max_clients under [plugins.scaler] if that many clients legitimately create instances'),
  TEN_ERR_SCALER_SPAWN_FULL: def(503, 'service %s already holds max_spawned = %s instances created by requests', 'retry later (they expire after spawn_expire_after); stop unused ones, or raise max_spawned under [plugins.scaler]'),
  TEN_ERR_SCALER_ID_NOT_ALLOWED: def(404, 'no instance %s, and spawn_ids does not let a request create it', 'use an id that spawn_ids admits, or have an admin create it (`ten spawn`)'),
  // deploy workflows (deploy-workflows)
  TEN_ERR_WORKFLOW_UNHEALTHY: def(422, '%s did not become healthy: %s', 'check the new version\'s log; nothing else was changed'),
  TEN_ERR_WORKFLOW_TIMEOUT: def(504, '%s was not healthy within %s s', 'raise --timeout, or check why the new version starts slowly; nothing else was changed'),
  TEN_ERR_WORKFLOW_NOT_HEALTHY: def(409, 'refusing to route to %s: it is %s', 'wait until it is running and healthy, or pass --force'),
  TEN_ERR_WORKFLOW_BUSY: def(409, 'a %s of %s is already in progress', 'wait for it (`ten rollout status`), or abort it first'),
  TEN_ERR_WORKFLOW_NOT_FOUND: def(404, 'no %s for service %s', 'start one first; see `ten history` for past ones'),
  TEN_ERR_WORKFLOW_ROLLED_BACK: def(422, 'rollout of %s rolled back: %s', 'see `ten history %s`; fix the new version and roll out again'),
  TEN_ERR_WORKFLOW_INTERRUPTED: def(500, '%s of %s was interrupted by a restart of ten serve', 'check `ten ps` and `ten history`; instances were left as they were, run the operation again'),
  TEN_ERR_WORKFLOW_INVALID: def(400, 'invalid %s: %s', 'see `ten <command> --help`'),
  // CLI
  TEN_ERR_CLI_SERVER_UNREACHABLE: def(1, 'cannot reach ten serve at %s (%s)', 'start it with `ten serve`, or pass --server / set TENEMENT_SERVER'),
  TEN_ERR_CLI_TIMEOUT: def(1, 'ten serve at %s did not answer in time: %s', 'check that the address is ten serve\'s and that it is not stuck (its log shows what it does); on a slow link raise --request-timeout or TENEMENT_REQUEST_TIMEOUT'),
  TEN_ERR_CLI_BAD_ANSWER: def(1, 'ten serve at %s answered %s with what this ten cannot read (%s)', 'check that ten and ten serve are the same version (`ten version`; GET /health gives the server\'s); --debug shows where it failed'),
  TEN_ERR_CLI_NO_TOKEN: def(1, 'no API token found', 'pass --token, set TENEMENT_TOKEN, or run where {data_dir}/api_token is readable'),
  TEN_ERR_CLI_INVALID_ARGUMENT: def(1, '%s', 'see `ten <command> --help`'),
  TEN_ERR_CLI_UNKNOWN_COMMAND: def(2, 'unknown command %s%s', '`ten help` lists every command'),
  TEN_ERR_CLI_UNKNOWN_OPTION: def(2, 'unknown option %s for %s%s', '`ten help COMMAND` lists the options of a command'),
  TEN_ERR_CLI_METRICS_OFF: def(1, 'ten serve at %s serves no live statistics: its metrics slot is off', 'turn it on: remove `use = false` from [plugins.metrics] in tenement.toml (or set use = "prometheus-exporter"), then restart ten serve'),
  // ten install / ten uninstall (cli/install/)
  TEN_ERR_INSTALL_NO_SYSTEMD: def(1, 'systemd is not the service manager here (%s): nothing was changed', 'run it on a host booted with systemd; `--dry-run` prints every file and command to set up by hand, `--files-only` writes the files and starts nothing'),
  TEN_ERR_INSTALL_FILE_EXISTS: def(1, '%s exists and is not what ten install would write now: nothing was changed', 'compare it with `ten install --dry-run`, then pass --force to replace it'),
  TEN_ERR_INSTALL_STEP_FAILED: def(1, 'step %s failed (%s): %s', 'fix the cause shown and run the same command again (the steps before it are safe to repeat), or undo them with `ten uninstall`'),
  TEN_ERR_INSTALL_NOT_INSTALLED: def(1, 'nothing to uninstall at %s: %s', 'pass the --unit-dir ten install wrote to; a unit that ten install did not write is left alone'),
  TEN_ERR_ROUTE_FOREIGN_HOST: def(404, 'host %s is neither %s nor under it', 'tenement routes its domain, {service}.{domain} and {id}.{service}.{domain} only'),
  // ten export kubernetes (cli/export/, docs/scaling-out.md)
  TEN_ERR_EXPORT_UNKNOWN_SERVICE: def(1, 'ten serve runs instances of service %s, which %s does not define', 'export with the tenement.toml that ten serve runs (--config PATH), or `ten reload` it so both agree'),
  TEN_ERR_EXPORT_UNSUPPORTED: def(1, 'cannot export %s: %s', 'change what the message names (docs/scaling-out.md says what maps to what), then export again'),
  TEN_ERR_EXPORT_INVALID: def(1, 'the exported %s is not valid: %s', 'nothing was written; this is a bug of ten export or an input it does not handle: report it with the message and your tenement.toml'),
  TEN_ERR_EXPORT_WRITE_FAILED: def(1, 'cannot write %s: %s', 'check that the folder exists and is writable, or pass --output - to print to stdout'),
  // ten init (cli/init-detect.ts)
  TEN_ERR_INIT_EXISTS: def(1, '%s already exists: ten init never overwrites it', 'check it with `ten config`; to start over, move it aside and run ten init again'),
  TEN_ERR_INIT_NOTHING_FOUND: def(1, 'found no app to run in %s: %s', 'pass the command that starts it: ten init --command "node server.js" (and --name NAME)'),
  TEN_ERR_INIT_MANIFEST: def(1, 'cannot read %s: %s', 'fix the file, or pass the command that starts the app: ten init --command "..."'),
  // store / server
  TEN_ERR_STORE_OPEN_FAILED: def(500, 'cannot open the store at %s: %s', 'check that data_dir is writable and not used by another ten serve'),
  TEN_ERR_STORE_DAMAGED: def(500, 'the store %s %s, but this data_dir has been used before (%s): starting would forget every instance, weight and token', 'restore a backup (ten restore BACKUP --config …), or, to start empty on purpose, move the data_dir aside'),
  TEN_ERR_STORE_BACKUP_INVALID: def(500, 'the backup %s %s: nothing was restored', 'give a file made by ten backup (and check its path)'),
  TEN_ERR_SERVE_DATA_DIR_LOCKED: def(500, 'data_dir %s is in use by another ten serve (%s)', 'stop that ten serve first, or give this one another data_dir'),
  TEN_ERR_SERVE_LISTEN_FAILED: def(500, '%s: cannot listen on %s: %s', 'change %s, or stop whatever holds that address'),
  TEN_ERR_METRICS_LISTEN_FAILED: def(500, 'the metrics listener cannot listen on %s: %s', 'pick another `listen` address under [plugins.metrics], or stop whatever holds it'),
  // TLS in the listener ([settings.tls]: core/tls.ts, core/tls-watch.ts)
  TEN_ERR_TLS_CERT_INVALID: def(500, 'the certificate %s cannot be used: %s', 'point [settings.tls] cert at a PEM file ten serve can read: the certificate, then its intermediates'),
  TEN_ERR_TLS_KEY_INVALID: def(500, 'the private key %s cannot be used: %s', 'point [settings.tls] key at an unencrypted PEM private key that ten serve can read (its user needs read access)'),
  TEN_ERR_TLS_CERT_EXPIRED: def(500, 'the certificate %s expired on %s', 'write a renewed certificate and its key over the files: ten serve picks them up without a restart (while the certificate in force is valid, an expired renewal is refused and it stays)'),
  TEN_ERR_TLS_CERT_NOT_YET_VALID: def(500, 'the certificate %s is not valid before %s', 'check this host\'s clock (timedatectl); while the certificate in force is valid, ten serve keeps it and tries this one again once it is valid'),
  TEN_ERR_TLS_CERT_NAMES: def(500, 'the certificate %s does not cover %s', 'get a certificate whose names include them: {domain}, *.{domain} (or each {service}.{domain}) and *.{service}.{domain} for the instances of each service (a wildcard covers exactly one label: RFC 6125 §6.4.3)'),
  TEN_ERR_TLS_KEY_MISMATCH: def(500, 'the private key %s does not match the certificate %s', 'install the key the certificate was issued for; a renewal writes both files (until a matching pair is on disk, ten serve keeps the one in force)'),
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

export class TenementError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly hint: string;
  /** Extra structured data (TOML path and line, plugin and hook, ...). Never secrets. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, args: ReadonlyArray<string | number> = [], details: Record<string, unknown> = {}, cause?: unknown) {
    const d: ErrorDef = ERRORS[code];
    super(format(d.message, args), cause === undefined ? undefined : { cause });
    this.name = 'TenementError';
    this.code = code;
    this.statusCode = d.status;
    this.hint = format(d.hint, args);
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; hint: string } & Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, ...this.details };
  }
}

function format(template: string, args: ReadonlyArray<string | number>): string {
  let i = 0;
  return template.replace(/%s/g, () => (i < args.length ? String(args[i++]) : ''));
}

/** Shorthand: `throw tenErr('TEN_ERR_INSTANCE_NOT_FOUND', 'api:v1')`. */
export function tenErr(code: ErrorCode, ...args: Array<string | number>): TenementError {
  return new TenementError(code, args);
}
