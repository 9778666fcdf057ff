// Certificate renewal without a restart: the files [settings.tls] names are watched (fs.watch on
// their folders, which also sees a file replaced by rename or a symlink swapped, as certbot does in
// live/; plus a stat every POLL_MS for file systems where inotify says nothing), and once both have
// stopped changing for SETTLE_MS the pair is read again. A pair that reads and matches replaces the
// listener's secure context (tls.Server#setSecureContext: connections already open keep theirs);
// anything else leaves the pair in force and is said once per state of the files, with its code.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { TenementError } from './errors.ts';
import { CORE_TAP, type Hooks } from './hooks.ts';
import { readKeyPair, type KeyPair } from './tls.ts';

/** How long both files must stay unchanged before they are read (a renewal writes two files). */
export const SETTLE_MS = 1000;
/** How often the files are looked at when no watch event came. */
export const POLL_MS = 5000;

export interface CertWatchDeps {
  cert: string;
  key: string;
  /** The pair in force (read at start). */
  current: KeyPair;
  /** Put a new pair in force (setSecureContext on the HTTPS server). */
  apply(pair: KeyPair): void;
  hooks: Hooks;
  log: Logger;
}

/** What identifies the state of one file: device, inode, size and mtime of what the path leads to. */
function stamp(path: string): string {
  try {
    const st = statSync(path, { throwIfNoEntry: false, bigint: true });
    return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}` : 'missing';
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code}`; // (EACCES on a folder: readKeyPair says it)
  }
}

/**
 * Watches a certificate and key pair and puts each good renewal in force. Events (kind
 * `certificate`, service ""): `certificate reloaded: …` (fields outcome "loaded", serial,
 * not_after) and `certificate not reloaded: …` (outcome "refused", code: TEN_ERR_TLS_*).
 */
export class CertWatcher {
  private seen: string;
  private candidate: string | undefined;
  private settle: NodeJS.Timeout | undefined;
  private readonly poll: NodeJS.Timeout;
  private readonly watchers: FSWatcher[] = [];
  private current: KeyPair;
  private closed = false;

  constructor(private readonly d: CertWatchDeps) {
    this.current = d.current;
    this.seen = this.stamps();
    for (const dir of new Set([dirname(d.cert), dirname(d.key)])) {
      try {
        const w = watch(dir, { persistent: false }, () => this.look());
        w.on('error', () => w.close()); // the folder went away: the poll still looks
        this.watchers.push(w);
      } catch (err) {
        d.log.debug({ dir, err: (err as Error).message }, 'tls: cannot watch the folder; polling only');
      }
    }
    this.poll = setInterval(() => this.look(), POLL_MS).unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.poll);
    clearTimeout(this.settle);
    for (const w of this.watchers) w.close();
  }

  private stamps(): string {
    return `${stamp(this.d.cert)}|${stamp(this.d.key)}`;
  }

  /** Something may have changed: read the pair once both files have been still for SETTLE_MS. */
  private look(): void {
    if (this.closed) return;
    const now = this.stamps();
    if (now === this.seen || now === this.candidate) return;
    this.candidate = now;
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.settled(), SETTLE_MS).unref();
  }

  private settled(): void {
    if (this.closed) return;
    const now = this.stamps();
    if (now !== this.candidate) { // still being written
      this.candidate = undefined;
      return this.look();
    }
    this.candidate = undefined;
    this.seen = now;
    this.load();
  }

  private load(): void {
    const { d } = this;
    const pair = readKeyPair(d.cert, d.key);
    if (pair instanceof TenementError) {
      d.log.error({ code: pair.code, cert: d.cert, key: d.key, serial: this.current.serial }, `tls: certificate not reloaded: ${pair.message}; the certificate in force (serial ${this.current.serial}) stays`);
      return this.event(`certificate not reloaded: ${pair.code}: ${pair.message}; the certificate in force (serial ${this.current.serial}) stays`, { outcome: 'refused', code: pair.code, serial: this.current.serial });
    }
    if (pair.fingerprint === this.current.fingerprint && pair.key.equals(this.current.key)) return; // touched, not renewed
    try {
      d.apply(pair);
    } catch (err) { // readKeyPair made the same context: not expected
      d.log.error({ err, cert: d.cert }, 'tls: certificate not reloaded: the listener refused it');
      return;
    }
    const was = this.current;
    this.current = pair;
    d.log.info({ cert: d.cert, serial: pair.serial, not_after: pair.notAfter, names: pair.names, previous: was.serial }, `tls: certificate reloaded (serial ${pair.serial}, valid until ${pair.notAfter})`);
    this.event(`certificate reloaded: serial ${pair.serial} (was ${was.serial}), valid until ${pair.notAfter}`, { outcome: 'loaded', serial: pair.serial, not_after: pair.notAfter });
  }

  private event(message: string, fields: Record<string, string>): void {
    this.d.hooks.event.call({ at: Date.now(), source: CORE_TAP, kind: 'certificate', service: '', message, fields });
  }
}
