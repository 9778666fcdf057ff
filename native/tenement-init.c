/*
 * tenement-init: the tiny init that runs every app instance of tenement.
 *
 *   tenement-init [OPTIONS] -- COMMAND [ARG...]
 *     --join FILE       write "0" to FILE, a cgroup.procs file, first (repeatable)
 *     --exec            after --join, exec COMMAND in place (no init role)
 *     --control-fd N    the supervisor's socket (protocol below)
 *     --user U --group G  run COMMAND as U (name or uid; groups from initgroups(3)), group G
 *     --chown PATH      before that, chown PATH to U:G, mode 0700 (repeatable)
 *     --hostname NAME   sethostname(2) before the fork: only for a new UTS namespace (unshare
 *                       --uts), as it renames whatever namespace the init is in
 *     --no-new-privs --drop-caps   prctl(2) PR_SET_NO_NEW_PRIVS; no capability at all for COMMAND
 *     --grace SECONDS   between SIGTERM and SIGKILL for what the app leaves behind (default 10)
 *     --listen PATH     a Unix socket (its owner's only: umask 077) where a later supervisor
 *                       connects, replacing the current one (a restarted ten serve adopting
 *                       its apps). With --exec the socket is made here, in this mount
 *                       namespace, and passed on as fd 4 to the inner tenement-init, which is
 *                       then given --listen-fd 4
 *     --listen-fd N     that socket, inherited
 *     --relay           the app's stdout and stderr are pipes read by the init and sent on the
 *                       control socket as frames. With a supervisor connected, a slow one holds the
 *                       app back as a pipe would (64 KiB wait at most); with none, the output is
 *                       kept (1 MiB at most, then dropped and counted): the app never blocks on its
 *                       output then, and never gets EPIPE when the supervisor dies
 *
 * Role. It forks COMMAND (the app) into a process group of its own, stays its parent, and:
 *  - is a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), so processes the app leaves behind
 *    (a daemon started with setsid whose parent exited) are reparented to it, not to the host's
 *    PID 1, and can be found, reaped and killed;
 *  - forwards the signals it receives to the app's process group;
 *  - when the app's main process has exited, sends SIGTERM to every remaining descendant, waits
 *    --grace seconds, then SIGKILLs what is left, and only then exits, with the app's status.
 * As PID 1 of a PID namespace (unshare --pid --fork) it finds the whole namespace with kill(-1);
 * otherwise it finds its descendants through the ppid field of /proc/<pid>/stat (proc(5)).
 * With --exec it only joins cgroups (cgroups(7): writing a pid to cgroup.procs moves the process,
 * its children inherit the cgroup) and execs COMMAND in place, e.g. unshare(1) or bwrap(1), whose
 * innermost command is tenement-init again; the control fd is then left open for it.
 *
 * Protocol on the optional control socket (--control-fd), one line each, '\n'-terminated:
 *   init -> supervisor:  started <pid>              the app runs (exec succeeded), pid as seen here
 *                        orphans <n> <stopping>     the app exited, n descendants left (0|1: a stop
 *                                                   had been asked before), they get TERM, then KILL
 *                        exit <code|-> <SIGNAME|->  all gone; the app's status, mirrored by our own
 *                        error <what>: <strerror>   setup failed; init exits 126 (127: no such command)
 *                        1 <n>\n<n bytes>        (--relay) n bytes the app wrote to stdout; 2: stderr
 *                        dropped <n>                (--relay) n bytes of output dropped: no room
 *   supervisor -> init:  TERM    same as SIGTERM to the init (forwarded to the app, stopping)
 *                        KILL    SIGKILL to every descendant now, exit when none is left
 *                        SIG <n> forward signal n to the app's process group
 * Unknown lines are ignored. If the supervisor goes away (EOF) the app keeps running; with
 * --listen the next one that connects gets `started <pid>` again, then what was kept meanwhile.
 * Exit status: the app's code; killed by signal s: the same signal (128+s as PID 1);
 * 125: bad command line; 126: setup failure; 127: COMMAND not found.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 65536   /* bound of one /proc scan */
#define KILL_ROUNDS 200   /* SIGKILL rounds, ~10 ms apart */

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };

static int ctl_fd = -1, ctl_reading;   /* the supervisor's connection (-1: none); read from it? */
static int lis_fd = -1;                /* where a later supervisor connects (--listen, --listen-fd) */
static int relay;                      /* --relay: the app's output comes through out_fd[1], [2] */
static int out_fd[3] = { -1, -1, -1 };
static int sig_fd = -1;                /* signalfd(2) of the blocked signals */
static pid_t app_pid, self;
static int app_alive, app_status, stopping, kill_now, pid1, proc_ok;

/* What waits for the supervisor: items (control lines, and output frames "<fd> <n>\n" + n bytes)
 * in obuf[ohead..olen), whole; isent bytes of the first one are written already. Output that does
 * not fit is dropped and counted, leaving CTL_RESERVE for control lines, which are never dropped. */
#define OBUF_SIZE (1 << 20)
#define CTL_RESERVE 4096
#define HIGH_WATER (64 << 10)   /* connected: the app's pipes are not read while this much waits */
/* The socket's send buffer: kept near a pipe's 64 KiB (the kernel doubles it, socket(7)), so a
 * supervisor that lags gets no bigger bursts per read than from a pipe to the app */
#define SNDBUF (32 << 10)

static void small_sndbuf(int fd) {
    int n = SNDBUF;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof n);   /* best effort: a pipe is not a socket */
}
static char obuf[OBUF_SIZE];
static size_t ohead, olen, isent;
static unsigned long long dropped;

static size_t room(void) { return OBUF_SIZE - (olen - ohead); }

static void append(const char *data, size_t n) {
    if (OBUF_SIZE - olen < n && ohead > 0) {
        memmove(obuf, obuf + ohead, olen - ohead);
        olen -= ohead, ohead = 0;
    }
    if (OBUF_SIZE - olen < n) return;   /* callers check room() first */
    memcpy(obuf + olen, data, n);
    olen += n;
}

/* Bytes of the item at obuf[off]: a frame's header and data, or a line with its '\n'. */
static size_t item_len(size_t off) {
    const char *p = obuf + off, *nl = memchr(p, '\n', olen - off);
    size_t head = nl ? (size_t)(nl - p) + 1 : olen - off;
    return isdigit((unsigned char)*p) ? head + strtoul(strchr(p, ' ') + 1, NULL, 10) : head;
}

/* The supervisor is gone: what it did not get of the item it was reading is of no use to the next
 * one, which starts reading at an item's start. */
static void disconnect(void) {
    if (ctl_fd >= 0) close(ctl_fd);
    ctl_fd = -1, ctl_reading = 0;
    if (isent) ohead += item_len(ohead), isent = 0;
}

/* Writes what it can without blocking. */
static void flush(void) {
    while (ctl_fd >= 0 && ohead < olen) {
        ssize_t w = write(ctl_fd, obuf + ohead + isent, olen - ohead - isent);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) return;
        if (w <= 0) { disconnect(); return; }
        for (size_t left = w; left > 0;) {
            size_t len = item_len(ohead), rest = len - isent;
            if (left < rest) { isent += left; break; }
            left -= rest, ohead += len, isent = 0;
        }
    }
    if (ohead == olen) ohead = olen = 0;
}

/* Flushes, waiting for the supervisor to read, for at most ms milliseconds. */
static void flush_wait(int ms) {
    double end = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    end = ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6 + ms;
    for (flush(); ctl_fd >= 0 && ohead < olen; flush()) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int left = (int)(end - (ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6));
        struct pollfd p = { ctl_fd, POLLOUT, 0 };
        if (left <= 0 || poll(&p, 1, left) <= 0) return;
    }
}

/* One line to the supervisor, best effort: kept while none is connected. */
static void say(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof buf) n = sizeof buf - 1, buf[n - 1] = '\n';
    if (room() >= (size_t)n) append(buf, n);
    flush();
}

/* n bytes the app wrote on fd (1, 2): one frame, or dropped and counted when there is no room;
 * once dropping, everything is dropped until the count could be sent, so order is kept. */
static void relay_out(int fd, const char *data, size_t n) {
    char head[48];
    if (dropped) {
        int k = snprintf(head, sizeof head, "dropped %llu\n", dropped);
        if (room() < (size_t)k + CTL_RESERVE + n + 32) { dropped += n; return; }
        append(head, k);
        dropped = 0;
    }
    int h = snprintf(head, sizeof head, "%d %zu\n", fd, n);
    if (room() < (size_t)h + n + CTL_RESERVE) { dropped += n; return; }
    append(head, h);
    append(data, n);
    flush();
}

/* Reads what the app wrote; closes the pipe at its end. */
static void read_output(int fd) {
    char buf[65536];
    for (int rounds = 0; out_fd[fd] >= 0 && rounds < 16 && !(ctl_fd >= 0 && olen - ohead >= HIGH_WATER); rounds++) {
        ssize_t r = read(out_fd[fd], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        if (r <= 0) { close(out_fd[fd]); out_fd[fd] = -1; return; }
        relay_out(fd, buf, r);
    }
}

/* Setup failure: `error` line and stderr, exit 126 (127 when COMMAND was not found). */
static void fail_msg(int status, const char *what, const char *msg) {
    signal(SIGPIPE, SIG_IGN);
    say("error %s: %s\n", what, msg);
    flush_wait(1000);
    fprintf(stderr, "tenement-init: %s: %s\n", what, msg);
    exit(status);
}
static void fail(const char *what, int err) { fail_msg(126, what, strerror(err)); }

static void usage(const char *msg) {
    fprintf(stderr, "tenement-init: %s\n"
        "usage: tenement-init [--join FILE]... [--exec] [--control-fd N] [--user NAME|UID]\n"
        "         [--group NAME|GID] [--chown PATH]... [--hostname NAME] [--no-new-privs]\n"
        "         [--drop-caps] [--grace SECONDS] [--listen PATH | --listen-fd N] [--relay]\n"
        "         -- COMMAND [ARG...]\n", msg);
    exit(125);
}

static const char *signame(int sig) {
    static const char *const names[] = {
        [SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
        [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT", [SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE",
        [SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
        [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM", [SIGCHLD] = "SIGCHLD",
        [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
        [SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG", [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
        [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO",
        [SIGPWR] = "SIGPWR", [SIGSYS] = "SIGSYS",
    };
    static char buf[16];
    if (sig > 0 && (size_t)sig < sizeof names / sizeof *names && names[sig]) return names[sig];
    snprintf(buf, sizeof buf, "SIG%d", sig);
    return buf;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Signals every descendant with sig (0: only counts) and returns how many there are. As PID 1:
 * kill(-1) reaches every process of the namespace but us (kill(2)); otherwise a /proc scan. Never
 * kill(-1) outside a PID namespace. A pid read here may in theory exit and be reused before the
 * kill(), as with any pkill; our own children cannot, they stay zombies until we reap them. */
static int descendants(int sig) {
    static pid_t pid[MAX_PROCS], ppid[MAX_PROCS];
    static unsigned char mark[MAX_PROCS];
    int n = 0, found = 0, changed = 1;
    if (pid1 && sig) kill(-1, sig);
    if (!proc_ok) /* /proc is another namespace's: its pids are not ours, never signal them */
        return pid1 && (kill(-1, 0) == 0 || errno == EPERM);
    DIR *d = opendir("/proc");
    if (!d) return 0;
    for (struct dirent *e; n < MAX_PROCS && (e = readdir(d));) {
        char path[64], buf[512], state;
        int p, fd, me = atoi(e->d_name);
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        snprintf(path, sizeof path, "/proc/%d/stat", me);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) continue;
        ssize_t r = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (r <= 0) continue;
        buf[r] = 0;
        char *rp = strrchr(buf, ')');   /* comm may hold spaces and parens: fields follow the last ')' */
        if (!rp || sscanf(rp + 1, " %c %d", &state, &p) != 2) continue;
        if (state == 'Z' || state == 'X') continue;   /* already dead, reaped by its parent or us */
        pid[n] = me, ppid[n] = p, mark[n] = 0, n++;
    }
    closedir(d);
    /* Descendants of self: our children, then children of those found, until nothing changes.
     * desc[] holds the pids found so far (few, usually), so a pass costs n * found. */
    static pid_t desc[MAX_PROCS];
    while (changed) {
        changed = 0;
        for (int i = 0; i < n; i++) {
            if (mark[i] || pid[i] == self) continue;
            int hit = pid1 || ppid[i] == self;   /* as PID 1 the whole namespace is ours */
            for (int j = 0; !hit && j < found; j++) hit = desc[j] == ppid[i];
            if (hit) mark[i] = 1, changed = 1, desc[found++] = pid[i];
        }
    }
    for (int j = 0; j < found && sig && !pid1; j++) kill(desc[j], sig);
    return found;
}

/* Reaps every child that exited; returns 1 when we have no child left at all (ECHILD). */
static int reap(void) {
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p == app_pid && app_alive) app_alive = 0, app_status = st;
        if (p > 0) continue;
        return p < 0 && errno == ECHILD;
    }
}

static void forward(int sig) {
    if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT || sig == SIGHUP) stopping = 1;
    if (!app_alive) return;   /* after the app: its leftovers get TERM then KILL anyway */
    if (kill(-app_pid, sig) < 0 && errno == ESRCH) kill(app_pid, sig);
}

static void command(char *line) {
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[len - 1] = 0;
    int sig;
    char end;
    if (!strcmp(line, "TERM")) forward(SIGTERM);
    else if (!strcmp(line, "KILL")) stopping = 1, kill_now = 1, descendants(SIGKILL);
    else if (sscanf(line, "SIG %d%c", &sig, &end) == 1 && sig > 0 && sig < NSIG) forward(sig);
}

static char cline[256];
static size_t clen;
static int coverflow;

static void read_control(void) {
    char buf[256];
    ssize_t r = read(ctl_fd, buf, sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (r <= 0) { disconnect(); return; }   /* EOF or error: the supervisor is gone */
    for (ssize_t i = 0; i < r; i++) {
        if (buf[i] == '\n') {
            cline[clen] = 0;
            if (!coverflow) command(cline);
            clen = 0, coverflow = 0;
        } else if (clen < sizeof cline - 1) cline[clen++] = buf[i];
        else coverflow = 1;   /* too long: dropped up to its newline */
    }
}

/* A supervisor connects (a restarted ten serve): it replaces the current one, and learns the app's
 * pid first, then gets what was kept for it. */
static void take_connection(void) {
    int c = accept4(lis_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    disconnect();
    ctl_fd = c, ctl_reading = 1, clen = 0, coverflow = 0;
    small_sndbuf(c);
    char line[64];
    int n = snprintf(line, sizeof line, "started %d\n", (int)app_pid);
    if (write(c, line, n) != n) { disconnect(); return; }   /* a fresh socket takes 64 bytes */
    flush();
}

/* Waits up to timeout_ms (-1: forever) for a signal, a control line, a connection or the app's
 * output, and handles them. */
static void wait_events(int timeout_ms) {
    struct pollfd pfd[5] = {
        { sig_fd, POLLIN, 0 },
        { ctl_fd, (short)((ctl_reading ? POLLIN : 0) | (ohead < olen ? POLLOUT : 0)), 0 },
        { app_pid ? lis_fd : -1, POLLIN, 0 },
        /* a supervisor that reads slowly holds the app back, as a pipe to it would (the app blocks
         * on a full pipe, nothing is lost); with none connected the app is never held back */
        { ctl_fd >= 0 && olen - ohead >= HIGH_WATER ? -1 : out_fd[1], POLLIN, 0 },
        { ctl_fd >= 0 && olen - ohead >= HIGH_WATER ? -1 : out_fd[2], POLLIN, 0 },
    };
    if (poll(pfd, 5, timeout_ms) <= 0) return;
    if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) { if (ctl_reading) read_control(); else if (!(pfd[1].revents & POLLOUT)) disconnect(); }
    if (pfd[1].revents & POLLOUT) flush();
    if (pfd[2].revents) take_connection();
    for (int fd = 1; fd <= 2; fd++) if (pfd[2 + fd].revents) read_output(fd);
    if (!pfd[0].revents) return;
    struct signalfd_siginfo si;
    while (read(sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) reap();
        else forward(si.ssi_signo);
    }
}

/* A Unix socket listening at path, its owner's only (umask 077: 0700), or -1 with errno. */
static int listen_at(const char *path) {
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof a.sun_path) { errno = ENAMETOOLONG; return -1; }
    strcpy(a.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) return -1;
    unlink(path);   /* a previous instance's */
    mode_t old = umask(077);
    int r = bind(s, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (r < 0 || listen(s, 4) < 0) { int e = errno; close(s); errno = e; return -1; }
    return s;
}

/* In the forked child, before exec: a failure is sent to the parent through the pipe. */
struct child_err { int stage, err; };
enum { ST_GROUPS, ST_SETGID, ST_SETUID, ST_CWD, ST_NNP, ST_CAPS, ST_EXEC };
static const char *const stage_what[] = { "setgroups", "setgid", "setuid", "workdir", "no-new-privs", "drop-caps", "exec" };

static void child_fail(int fd, int stage) {
    struct child_err ce = { stage, errno };
    if (write(fd, &ce, sizeof ce) < 0) { /* parent sees EOF and an exit 126: nothing more to do */ }
    _exit(126);
}

static int drop_bounding_caps(void) {
    int last = 63;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f) { if (fscanf(f, "%d", &last) != 1) last = 63; fclose(f); }
    for (int c = 0; c <= last; c++)   /* PR_CAPBSET_DROP needs CAP_SETPCAP: before setuid */
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) return -1;
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL ? -1 : 0;
}

static long number(const char *s, const char *opt) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s needs a number, got '%.40s'", opt, s);
        usage(msg);
    }
    return v;
}
static int numeric(const char *s) { return *s && strspn(s, "0123456789") == strlen(s); }

int main(int argc, char **argv) {
    const char **joins = calloc(argc, sizeof *joins), **chowns = calloc(argc, sizeof *chowns);
    const char *user = NULL, *group = NULL, *hostname = NULL, *listen_path = NULL;
    int njoin = 0, nchown = 0, exec_only = 0, nnp = 0, dropcaps = 0, listen_fd = -1;
    double grace = 10;
    char **cmd = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) { cmd = argv + i + 1; break; }
        if (!strcmp(a, "--exec")) { exec_only = 1; continue; }
        if (!strcmp(a, "--no-new-privs")) { nnp = 1; continue; }
        if (!strcmp(a, "--drop-caps")) { dropcaps = 1; continue; }
        if (!strcmp(a, "--relay")) { relay = 1; continue; }
        static const char *const valued[] = { "--join", "--control-fd", "--user", "--group", "--chown", "--hostname", "--grace", "--listen", "--listen-fd" };
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof *valued; k++) known |= !strcmp(a, valued[k]);
        if (!known || i + 1 >= argc) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s '%.40s'", strncmp(a, "--", 2) ? "expected -- before COMMAND, got" :
                     !known ? "unknown option" : "missing value after", a);
            usage(msg);
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--join")) joins[njoin++] = v;
        else if (!strcmp(a, "--control-fd")) ctl_fd = number(v, a);
        else if (!strcmp(a, "--user")) user = v;
        else if (!strcmp(a, "--group")) group = v;
        else if (!strcmp(a, "--chown")) chowns[nchown++] = v;
        else if (!strcmp(a, "--hostname")) hostname = v;
        else if (!strcmp(a, "--listen")) listen_path = v;
        else if (!strcmp(a, "--listen-fd")) listen_fd = number(v, a);
        else {   /* --grace */
            char *end;
            grace = strtod(v, &end);
            if (end == v || *end || !(grace >= 0 && grace < 1e6)) usage("--grace needs seconds, like 10 or 0.5");
        }
    }
    if (!cmd || !cmd[0]) usage("missing -- COMMAND");
    if (nchown && !user) usage("--chown needs --user");
    if (group && !user) usage("--group needs --user");
    if (exec_only && (user || hostname || nnp || dropcaps || relay || listen_fd >= 0))
        usage("--exec goes with --join, --control-fd and --listen only (the inner tenement-init does the rest)");
    if (listen_path && listen_fd >= 0) usage("--listen and --listen-fd exclude each other");

    if (ctl_fd >= 0) {
        int fl = fcntl(ctl_fd, F_GETFD);
        if (fl < 0) { int e = errno; ctl_fd = -1; fail("control-fd", e); }
        /* init role: the app must not inherit it; --exec: the inner tenement-init needs it */
        if (!exec_only) {
            fcntl(ctl_fd, F_SETFD, fl | FD_CLOEXEC);
            fcntl(ctl_fd, F_SETFL, fcntl(ctl_fd, F_GETFL) | O_NONBLOCK);
            if (relay) small_sndbuf(ctl_fd);
        }
        ctl_reading = 1;
    }
    char what[300];
    if (listen_path) {   /* made here, in this mount namespace, before a wrapper hides the path */
        snprintf(what, sizeof what, "listen %s", listen_path);
        int l = listen_at(listen_path);
        if (l < 0) fail(what, errno);
        if (exec_only) {   /* the inner tenement-init gets it as fd 4 (--listen-fd 4) */
            if (l == 4 ? fcntl(4, F_SETFD, 0) < 0 : dup2(l, 4) < 0 || close(l) < 0) fail(what, errno);
        } else lis_fd = l;
    }
    if (listen_fd >= 0) {
        if (fcntl(listen_fd, F_SETFD, FD_CLOEXEC) < 0) fail("listen-fd", errno);
        fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
        lis_fd = listen_fd;
    }
    for (int i = 0; i < njoin; i++) {   /* cgroups(7): "0" in cgroup.procs means the writer itself */
        snprintf(what, sizeof what, "join %s", joins[i]);
        int fd = open(joins[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0\n", 2) != 2) fail(what, errno);
        close(fd);
    }
    if (exec_only) {
        execvp(cmd[0], cmd);
        snprintf(what, sizeof what, "exec %s", cmd[0]);
        fail_msg(errno == ENOENT ? 127 : 126, what, strerror(errno));
    }
    signal(SIGPIPE, SIG_IGN);   /* a supervisor gone is no reason to die: writes fail with EPIPE */

    /* --user/--group are resolved here; initgroups, setgid, setuid happen in the child */
    uid_t uid = 0;
    gid_t gid = 0;
    const char *uname = NULL;   /* NULL with a numeric uid that has no passwd entry */
    if (user) {
        snprintf(what, sizeof what, "user %s", user);
        errno = 0;
        struct passwd *pw = numeric(user) ? getpwuid(number(user, "--user")) : getpwnam(user);
        if (pw) uid = pw->pw_uid, gid = pw->pw_gid, uname = strdup(pw->pw_name);
        else if (numeric(user)) uid = gid = number(user, "--user");
        else fail_msg(126, what, errno ? strerror(errno) : "no such user");
        if (group) {
            snprintf(what, sizeof what, "group %s", group);
            errno = 0;
            struct group *gr = numeric(group) ? NULL : getgrnam(group);
            if (numeric(group)) gid = number(group, "--group");
            else if (gr) gid = gr->gr_gid;
            else fail_msg(126, what, errno ? strerror(errno) : "no such group");
        }
    }
    for (int i = 0; i < nchown; i++) {   /* O_NOFOLLOW: a symlink planted there is refused (ELOOP) */
        snprintf(what, sizeof what, "chown %s", chowns[i]);
        int fd = open(chowns[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, 0700) < 0) fail(what, errno);
        close(fd);
    }
    if (hostname && sethostname(hostname, strlen(hostname)) < 0) {
        snprintf(what, sizeof what, "hostname %s", hostname);
        fail(what, errno);
    }

    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) fail("subreaper", errno);
    self = getpid();
    pid1 = self == 1;
    char link[32] = "";   /* /proc must be this PID namespace's, or its pids are not ours */
    ssize_t ll = readlink("/proc/self", link, sizeof link - 1);
    proc_ok = ll > 0 && atoi(link) == self;
    if (!proc_ok && !pid1) fprintf(stderr, "tenement-init: /proc is not this PID namespace's: leftover processes cannot be found\n");

    /* pid_namespaces(7): PID 1 only gets the signals it has a handler for; blocked signals read
     * from a signalfd are queued (the kernel never ignores a blocked signal), so this works there. */
    sigset_t handled, orig;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaddset(&handled, forwarded[i]);
    sigprocmask(SIG_BLOCK, &handled, &orig);
    if ((sig_fd = signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) fail("signalfd", errno);

    int ep[2];   /* exec status: closed (CLOEXEC) by a successful exec, or one child_err */
    if (pipe2(ep, O_CLOEXEC) < 0) fail("pipe", errno);
    int op[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };   /* --relay: the app's stdout, stderr */
    for (int fd = 1; relay && fd <= 2; fd++) if (pipe2(op[fd], O_CLOEXEC) < 0) fail("pipe", errno);
    pid_t init_self = getpid();
    app_pid = fork();
    if (app_pid < 0) fail("fork", errno);
    if (app_pid == 0) {
        close(ep[0]);
        for (int fd = 1; relay && fd <= 2; fd++) if (dup2(op[fd][1], fd) < 0) child_fail(ep[1], ST_EXEC);
        setpgid(0, 0);
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);   /* SIGPIPE above; inherited ignores */
        sigprocmask(SIG_SETMASK, &orig, NULL);
        if (dropcaps && drop_bounding_caps() < 0) child_fail(ep[1], ST_CAPS);
        if (user) {
            if (uname ? initgroups(uname, gid) < 0 : setgroups(1, &gid) < 0) child_fail(ep[1], ST_GROUPS);
            if (setgid(gid) < 0) child_fail(ep[1], ST_SETGID);
            if (setuid(uid) < 0) child_fail(ep[1], ST_SETUID);
            /* the working directory was entered as root: say so now if the app's user cannot use
             * it, rather than let the app fail on its first relative path */
            char here[4096];   /* by its full path: every folder above it must let the user through too */
            if (access(getcwd(here, sizeof here) ? here : ".", R_OK | X_OK) < 0) child_fail(ep[1], ST_CWD);
        }
        if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(ep[1], ST_NNP);
        if (dropcaps) {   /* capset(2), raw: effective, permitted and inheritable all empty */
            struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
            struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
            if (syscall(SYS_capset, &h, data) < 0) child_fail(ep[1], ST_CAPS);
        }
        /* if the init itself is killed (SIGKILL, the OOM killer), the app goes with it rather than
         * living on unsupervised; set after setuid, which clears it (prctl(2) PR_SET_PDEATHSIG),
         * then re-check that the init did not die before the call */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != init_self) _exit(137);
        execvp(cmd[0], cmd);
        child_fail(ep[1], ST_EXEC);
    }
    close(ep[1]);
    for (int fd = 1; relay && fd <= 2; fd++) {
        close(op[fd][1]);
        out_fd[fd] = op[fd][0];
        fcntl(out_fd[fd], F_SETFL, O_NONBLOCK);
    }
    app_alive = 1;
    struct child_err ce;
    ssize_t r;
    while ((r = read(ep[0], &ce, sizeof ce)) < 0 && errno == EINTR) {}
    close(ep[0]);
    if (r == sizeof ce) {
        while (waitpid(app_pid, NULL, 0) < 0 && errno == EINTR) {}
        char cwd[256] = "?";
        if (ce.stage == ST_EXEC) snprintf(what, sizeof what, "exec %s", cmd[0]);
        else if (ce.stage == ST_CWD) snprintf(what, sizeof what, "working directory %s, as uid %d (the app's user must be able to read and enter it)",
                                              getcwd(cwd, sizeof cwd) ? cwd : "?", (int)uid);
        else snprintf(what, sizeof what, "%s", stage_what[ce.stage]);
        fail_msg(ce.stage == ST_EXEC && ce.err == ENOENT ? 127 : 126, what, strerror(ce.err));
    }
    say("started %d\n", (int)app_pid);

    while (app_alive) wait_events(-1);

    /* The app is gone: its leftovers get SIGTERM (and SIGCONT, for stopped ones: systemd.kill(5)),
     * --grace seconds, then SIGKILL until none is left and every child is reaped. */
    int left = descendants(0), none = reap();
    if (left > 0) say("orphans %d %d\n", left, stopping);
    if (left > 0 && !kill_now) {
        descendants(SIGTERM);
        descendants(SIGCONT);
        for (double end = now() + grace, rest; !kill_now && (rest = end - now()) > 0;) {
            wait_events(rest > 0.05 ? 50 : (int)(rest * 1000) + 1);   /* re-count every 50 ms */
            none = reap();
            if (none && (left = descendants(0)) == 0) break;
        }
    }
    for (int round = 0; (left > 0 || !none) && round < KILL_ROUNDS; round++) {
        if (round) wait_events(10);
        left = descendants(SIGKILL);   /* counted before this kill: done when a round finds none */
        none = reap();
    }

    for (int fd = 1; fd <= 2; fd++) while (out_fd[fd] >= 0 && !kill_now) {   /* the last output, before the exit line */
        struct pollfd p = { out_fd[fd], POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0) break;   /* nobody is left to write: EOF is near; never wait long */
        read_output(fd);
    }
    int sig = WIFSIGNALED(app_status) ? WTERMSIG(app_status) : 0;
    if (!sig) {
        say("exit %d -\n", WEXITSTATUS(app_status));
        flush_wait(2000);
        return WEXITSTATUS(app_status);
    }
    say("exit - %s\n", signame(sig));
    flush_wait(2000);
    if (!pid1) {   /* die the same way; no core dump of ours */
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(sig, SIG_DFL);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, sig);
        sigprocmask(SIG_UNBLOCK, &s, NULL);
        raise(sig);
    }
    _exit(128 + sig);   /* PID 1 ignores its own default-action signals (pid_namespaces(7)) */
}
