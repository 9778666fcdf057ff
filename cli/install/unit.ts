// The systemd unit `ten install` writes (docs/deployment.md#running-under-systemd). Pure: the
// values come from plan.ts, the text from here, each directive with a comment naming the man page
// that defines it. Why each choice was made is in the comments of the unit itself, so that the
// file on the server explains itself.

/** What the unit needs to know; every path is absolute. */
export interface UnitSpec {
  /** The base domain ten serve routes (`--domain`). */
  domain: string;
  /** `--port`, when given to ten install (else the config's port applies). */
  port?: number;
  /** argv of `ten serve`: node, bin/ten.js, `serve`, `--config`, … */
  execStart: string[];
  /** The config file's folder (WorkingDirectory=). */
  workdir: string;
  /** Folders ten serve writes: the data dir, the folder of a Unix-socket api_listen (and their
   *  real paths when they are symlinks): cli/install/paths.ts. */
  writable: string[];
  /** `yes` unless a path the service needs lies under /home, /root or /run/user. */
  protectHome: 'yes' | 'read-only';
  /** The paths under a home folder, as "what /path" (why ProtectHome is not `yes`), for the comment. */
  protectHomeWhy: string[];
  /** The paths in /tmp or /var/tmp, as "what /path": PrivateTmp is off when there is one. */
  privateTmpWhy: string[];
  /** User= (absent: root). */
  user?: string;
  /** Give CAP_NET_BIND_SERVICE: a non-root user on a port below 1024. */
  bindLowPort: boolean;
  /** TimeoutStopSec=, in seconds, and how it was computed. */
  stopTimeout: { seconds: number; drain: number; longestStop: number; longestService: string | null; margin: number };
  /** Files install wrote besides the unit (the Caddyfile), for `ten uninstall`. */
  wrote: string[];
  /** A file:// URL of docs/deployment.md in the installed copy (Documentation=). */
  docs: string;
}

/** The marker of a unit written by ten install (first line), and of what else it wrote. */
export const UNIT_MARKER = '# Written by `ten install`';
export const WROTE_PREFIX = '# ten install also wrote: ';

// Each kind of setting has its own escaping; a value is escaped for the setting it goes in:
// - every value: `%` starts a specifier, `%%` is one `%` (systemd.unit(5), "Specifiers"); this
//   holds for Documentation= too, and pathToFileURL() writes a space as `%20`;
// - command lines (ExecStart=): words split at spaces, "…" quoting with C escapes, and `$NAME`
//   replaced by the environment variable, `$$` is one `$` (systemd.service(5), "Command lines");
// - path lists (ReadWritePaths=): words split at spaces, "…" quoting, but NO `$` substitution, so
//   `$` stays as it is (systemd.exec(5), "Sandboxing": "space-separated list of paths");
// - one path (WorkingDirectory=): the whole rest of the line, no quoting, no `$` (systemd.exec(5)).
// No Environment= is written (it would quote like a command line, without `$`: systemd.exec(5)).

/** `%` doubled: the only escape every setting shares (systemd.unit(5), "Specifiers"). */
const specifiers = (v: string) => v.replace(/%/g, '%%');

/** One word for a space-separated setting: bare when it is plain, else double-quoted with `\` and `"` escaped. */
const word = (v: string) => (/^[\w@+=:,./%$-]+$/.test(v) ? v : `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`);

/** One argument for ExecStart= (systemd.service(5), "Command lines"): `%` and `$` doubled, quoted when not plain. */
export function execArg(arg: string): string {
  return word(specifiers(arg).replace(/\$/g, '$$$$'));
}

/** A path in a space-separated path list (ReadWritePaths=, systemd.exec(5)): `%` doubled, quoted
 *  when not plain; `$` as it is (no variable substitution there). */
export function pathArg(path: string): string {
  return word(specifiers(path));
}

/** A path as a whole-line setting (WorkingDirectory=): only `%` is escaped (systemd.unit(5)). */
const linePath = specifiers;

/** The text of tenement.service. */
export function renderUnit(u: UnitSpec): string {
  const s = u.stopTimeout;
  const lines = [
    `${UNIT_MARKER} for ${u.domain}: change the config or the options and run it again (--force),`,
    '# rather than editing this file. `ten uninstall` removes it.',
    ...u.wrote.map((f) => `${WROTE_PREFIX}${f}`),
    '',
    '[Unit]',
    `Description=tenement: process hypervisor and reverse proxy for ${u.domain}`,
    `Documentation=${specifiers(u.docs)}`,
    '# Start once the network is configured, so that a `listen` address exists (systemd.special(7)).',
    'Wants=network-online.target',
    'After=network-online.target',
    '# At most 5 starts in 60 s: a config that cannot start (ten serve exits 1 with a TEN_ERR_ code in',
    '# the journal) must not loop forever (systemd.unit(5), StartLimitIntervalSec=, StartLimitBurst=).',
    'StartLimitIntervalSec=60',
    'StartLimitBurst=5',
    '',
    '[Service]',
    '# exec: started once ten serve was exec()ed; a missing binary fails the start (systemd.service(5)).',
    'Type=exec',
    `ExecStart=${u.execStart.map(execArg).join(' ')}`,
    '# SIGHUP: ten serve re-reads its config and applies what changed, as `ten reload` does; a config',
    '# with errors is refused and the running one stays (systemd.service(5), ExecReload=).',
    'ExecReload=/bin/kill -HUP $MAINPID',
    `WorkingDirectory=${linePath(u.workdir)}`,
    ...(u.user ? [
      '# Not root: apps run as this same user, user/group keys and the namespace level need root',
      '# (docs/isolation.md). Without User=, ten serve runs as root and apps as `nobody` (systemd.exec(5)).',
      `User=${u.user}`,
    ] : [
      '# No User=: ten serve runs as root, so that it can run each app as its service\'s user (`nobody`',
      '# by default), use every isolation level and own the apps\' cgroups (docs/isolation.md).',
    ]),
    ...(u.bindLowPort ? [
      '# A port below 1024 as another user than root: only this capability, no other (capabilities(7),',
      '# systemd.exec(5) AmbientCapabilities=).',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
    ] : []),
    '',
    '# Restarts: after a crash or a kill, 2 s later (systemd.service(5), Restart=, RestartSec=). A clean',
    '# exit (ten serve stopped by SIGTERM) is not restarted.',
    'Restart=on-failure',
    'RestartSec=2',
    '',
    '# Stopping (systemd.kill(5)). `systemctl stop` sends SIGTERM to ten serve alone; it drains requests',
    '# (drain_timeout), stops every app with its own stop_timeout (SIGTERM, then SIGKILL) and exits only',
    '# once every app is gone. KillMode=process, as containerd.service and docker.service do for their',
    '# containers, and not mixed or control-group:',
    '# - control-group would SIGTERM every app at the same moment as ten serve, before the drain;',
    '# - mixed and control-group both kill every app left in the cgroup when ten serve dies (kill -9,',
    '#   a crash): the restarted ten serve could no longer adopt them, and every app would restart.',
    '# With process, a crash leaves the apps serving, and the next ten serve adopts them (same pid,',
    '# same port; docs/security.md#crash-safety). The cost: if ten serve is still not done after',
    '# TimeoutStopSec, only it is SIGKILLed; the apps still running stay until the next start adopts',
    '# them, or `ten uninstall` ends them. A second SIGTERM (`systemctl kill tenement`) makes ten serve',
    '# SIGKILL what has not stopped 1 s later.',
    'KillMode=process',
    'KillSignal=SIGTERM',
    `# drain_timeout ${s.drain} s + the longest stop_timeout ${s.longestStop} s${s.longestService ? ` (service ${s.longestService})` : ''} + ${s.margin} s to spare;`,
    '# apps stop in parallel. Raise them in the config and run `ten install --force` again.',
    `TimeoutStopSec=${s.seconds}`,
    '',
    '# ten serve makes a cgroup per instance UNDER ITS OWN cgroup (core/cgroup.ts): systemd must hand',
    '# the subtree to it, or it would be systemd\'s to manage (systemd.resource-control(5), Delegate=;',
    '# systemd.io/CGROUP_DELEGATION). With a user, systemd also gives the subtree to that user.',
    'Delegate=yes',
    '# The proxy holds two descriptors per proxied connection; apps inherit this too (systemd.exec(5)).',
    'LimitNOFILE=65536',
    '',
    '# Hardening (systemd.exec(5), "Sandboxing"). The apps run inside the same sandbox: everything is',
    '# read-only for them but the data dir, where each instance has its DATA_DIR.',
    'ProtectSystem=strict',
    `ReadWritePaths=${u.writable.map(pathArg).join(' ')}`,
    ...(u.protectHome === 'yes' ? ['# /home, /root and /run/user: empty and inaccessible.']
      : ['# read-only, not yes: yes would hide what ten serve or its apps need there:', ...u.protectHomeWhy.map((w) => `#   ${w}`)]),
    `ProtectHome=${u.protectHome}`,
    ...(u.privateTmpWhy.length === 0
      ? ['# A /tmp and /var/tmp of their own, for ten serve and its apps together.', 'PrivateTmp=yes']
      : ['# no, not yes: a private /tmp would hide what ten serve or its apps need there:', ...u.privateTmpWhy.map((w) => `#   ${w}`), 'PrivateTmp=no']),
    '# No process of the service gains privileges through execve() (setuid files, file capabilities).',
    '# Root keeps its own: tenement-init still switches to each app\'s user, bubblewrap and unshare',
    '# still work as root.',
    'NoNewPrivileges=yes',
    '# The kernel: no module loading, no kernel log buffer (systemd.exec(5), ProtectKernelModules=,',
    '# ProtectKernelLogs=).',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    '# No realtime scheduling (a runaway app could starve the host), no set-user/group-ID files',
    '# created (apps run as nobody or their own user and need none), no personality() changes',
    '# (systemd.exec(5), RestrictRealtime=, RestrictSUIDSGID=, LockPersonality=).',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    '# System calls of this machine\'s own architecture only: no 32-bit x86 calls on x86-64, a common',
    '# way around seccomp filters; an app built for another ABI fails (systemd.exec(5),',
    '# SystemCallArchitectures=).',
    'SystemCallArchitectures=native',
    '# System calls no web app or tenement makes: set the clock, load modules, swap, reboot, raw I/O',
    '# ports, CPU emulation, obsolete calls. They fail with EPERM instead of killing the process',
    '# (systemd.exec(5), SystemCallFilter=, SystemCallErrorNumber=; `systemd-analyze syscall-filter`).',
    'SystemCallFilter=~@clock @cpu-emulation @module @obsolete @raw-io @reboot @swap',
    'SystemCallErrorNumber=EPERM',
    '# Sockets: Unix, IPv4, IPv6, and netlink (bubblewrap brings up the sandbox\'s loopback with it,',
    '# getifaddrs() uses it); no raw packet, Bluetooth, CAN… sockets (systemd.exec(5),',
    '# RestrictAddressFamilies=).',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    '# Capabilities root never needs to run web apps: the clock, wake alarms, reboot, process',
    '# accounting, immutable files, tty configuration, wake locks, MAC policy, the audit log\'s',
    '# configuration, raw I/O, BPF (systemd.exec(5), CapabilityBoundingSet=; capabilities(7)).',
    'CapabilityBoundingSet=~CAP_SYS_TIME CAP_WAKE_ALARM CAP_SYS_BOOT CAP_SYS_PACCT CAP_LINUX_IMMUTABLE CAP_SYS_TTY_CONFIG CAP_BLOCK_SUSPEND CAP_MAC_ADMIN CAP_MAC_OVERRIDE CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_SYS_RAWIO CAP_BPF',
    '# Mounts made inside the unit (bubblewrap, unshare) never reach the host (systemd.exec(5), PrivateMounts=).',
    'PrivateMounts=yes',
    '# Files the service and its apps create are not readable by other users of the host; ten serve',
    '# sets the modes it needs itself (0711 data dir, 0600 store and token) (systemd.exec(5), UMask=).',
    'UMask=0027',
    '# Left out on purpose:',
    '# - ProtectControlGroups=, ProtectKernelTunables=: they make /sys/fs/cgroup read-only: no',
    '#   instance cgroups.',
    '# - RestrictNamespaces=: the namespace and sandbox levels make pid, mount, ipc, uts and net',
    '#   namespaces.',
    '# - ProtectHostname=: both levels give each instance its own host name (`--hostname`), and its',
    '#   system call filter refuses sethostname() in those new UTS namespaces too.',
    '# - ProtectClock=: on systemd 252 it implies DeviceAllow=char-rtc r, which denies every other',
    '#   device to the apps (systemd issue 18142, fixed in 253); the clock capabilities and calls are',
    '#   dropped above instead.',
    '# - A CapabilityBoundingSet= allow-list: as root, ten serve and its levels need CAP_SETUID,',
    '#   CAP_SETGID (apps\' users), CAP_KILL (apps\' signals), CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER',
    '#   (DATA_DIRs), CAP_SYS_ADMIN (namespaces, mounts, cgroups), CAP_NET_ADMIN (a sandbox\'s',
    '#   loopback), CAP_SYS_CHROOT (bubblewrap), CAP_NET_BIND_SERVICE, CAP_SYS_RESOURCE (rlimits),',
    '#   CAP_SYS_PTRACE (other users\' /proc entries when adopting apps); an app a service runs as root',
    '#   may need more. The deny-list above removes what none of them use.',
    '# - ProtectProc=, ProcSubset=: apps read /proc (meminfo, their own and their children\'s',
    '#   processes), and the sandbox mounts a /proc of its own.',
    '# - MemoryDenyWriteExecute=: Node\'s JIT. PrivateDevices=, DevicePolicy=: apps may need devices.',
    '# - PrivateNetwork=, IPAddressDeny=, PrivateUsers=: ten serve serves the network, apps reach',
    '#   their databases and APIs, and ten serve must be the host\'s root to switch users.',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}
