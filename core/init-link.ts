// ten serve's side of tenement-init's control socket (the protocol: native/tenement-init.c). One
// byte stream carries report lines ("started 42", "exit 0 -", …) and, with --relay, the app's
// output as frames ("1 <n>\n" + n bytes of stdout, "2 <n>\n" + n bytes of stderr). The same
// reader serves a freshly spawned init (fd 3) and an adopted one (its --listen socket).
import type { Duplex } from 'node:stream';

/** What tenement-init said on its control socket. */
export interface InitReport {
  /** The app's pid, as the init sees it (in a PID namespace: 2). */
  started?: number;
  /** The app's main process exited and left this many processes, ended by the init since;
   *  `stopping`: it had been asked to stop (a stop's clean-up, not a daemonizing app). */
  orphans?: { count: number; stopping: boolean };
  /** How the app's main process ended. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** A set-up step failed (user, cgroup, hostname, exec). */
  error?: string;
}

/** Where the reader sends what it reads. */
export interface InitListener {
  /** A report line changed `init`. */
  report(): void;
  /** Bytes the app wrote (--relay): a chunk of a stream, cut anywhere. */
  output?(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  /** The init dropped `bytes` of output while it had no room to keep them (no supervisor). */
  dropped?(bytes: number): void;
}

/** Most bytes of one report line (the init's are short); a longer one is dropped. */
const MAX_LINE = 4096;
/** Most bytes of one output frame (the init reads 64 KiB at a time). */
const MAX_FRAME = 1 << 20;

/**
 * Read the init's side of `control` into `init` and `on`; resolves when the socket has closed
 * (every report read). A frame header out of bounds ends the reading: the stream is not the
 * init's protocol.
 */
export function readInit(control: Duplex, init: InitReport, on: InitListener): Promise<void> {
  let line: Buffer = Buffer.alloc(0);
  let frame: { stream: 'stdout' | 'stderr'; left: number } | null = null;
  const onLine = (text: string): boolean => {
    const m = /^([12]) (\d+)$/.exec(text);
    if (m) {
      const n = Number(m[2]);
      if (n > MAX_FRAME) return false;
      if (n > 0) frame = { stream: m[1] === '1' ? 'stdout' : 'stderr', left: n };
      return true;
    }
    const [word, a, b] = text.split(' ');
    if (word === 'started') init.started = Number(a);
    else if (word === 'orphans') init.orphans = { count: Number(a), stopping: b === '1' };
    else if (word === 'exit') init.exit = { code: a === '-' ? null : Number(a), signal: b === '-' ? null : b as NodeJS.Signals };
    else if (word === 'error') init.error = text.slice(word.length + 1);
    else if (word === 'dropped') on.dropped?.(Number(a));
    else return true;
    on.report();
    return true;
  };
  control.on('data', (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length) {
      if (frame) {
        const take = Math.min(frame.left, chunk.length - at);
        on.output?.(frame.stream, chunk.subarray(at, at + take));
        at += take;
        frame.left -= take;
        if (frame.left === 0) frame = null;
        continue;
      }
      const nl = chunk.indexOf(10, at);
      if (nl === -1) {
        line = Buffer.concat([line, chunk.subarray(at)]);
        if (line.length > MAX_LINE) line = Buffer.alloc(0);
        return;
      }
      const text = Buffer.concat([line, chunk.subarray(at, nl)]).toString('utf8');
      line = Buffer.alloc(0);
      at = nl + 1;
      if (!onLine(text)) {
        control.destroy();
        return;
      }
    }
  });
  return new Promise<void>((resolve) => {
    control.once('close', () => resolve());
    control.on('error', () => undefined);
  });
}
