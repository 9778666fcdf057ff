// Level `namespace`: the app in new PID, mount, IPC and UTS namespaces (util-linux unshare(1)),
// with /proc mounted anew so it sees only its own processes, and the host name
// `<id>.<service>`. The network stays the host's, so the proxy reaches it on its port.
// tenement-init is PID 1 inside: it has handlers, so the SIGTERM of a stop reaches it (an init
// without a handler ignores it, pid_namespaces(7)) and it passes it on to the app; when it exits,
// the kernel ends every process left in the namespace.
import type { SpawnSpec } from '../../core/index.ts';

/** unshare --fork makes its child PID 1 of the new namespace; --kill-child: if unshare dies, so
 *  does that child (and with it the namespace); --mount-proc implies --mount. */
export const NAMESPACE_WRAP = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--ipc', '--uts', '--'];

export function namespaceSpec(spec: SpawnSpec): SpawnSpec {
  return {
    ...spec,
    wrap: [...spec.wrap, ...NAMESPACE_WRAP],
    initOptions: [...spec.initOptions, '--hostname', `${spec.instance.id}.${spec.instance.service}`],
  };
}
