// Certificate renewal without a restart: the files [settings.tls] names are watched (fs.watch on
// their folders, which also sees a file replaced by rename or a symlink swapped, as certbot does in
// live/; plus a stat every POLL_MS for file systems where inotify says nothing), and once both have
// stopped changing for SETTLE_MS the pair is read again. A pair that reads and matches replaces the
// listener's secure context (tls.Server#setSecureContext: connections already open keep theirs);
// anything else leaves the pair in force and is said once per state of the files, with its code.
// A renewal that reads but would make HTTPS worse is refused too while the pair in force is good
// (tenement's rule, issue 12): one out of its dates (RFC 5280 §4.1.2.5) while the one in force is in
// them, and one that covers none of the names tenement serves (tls-names.ts) while the one in force
// covers some. One that leaves some names uncovered is put in force, with a warning naming them.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { TenementError } from './errors.ts';
import { CORE_TAP, type Hooks } from './hooks.ts';
import { listNames, uncoveredNames, type ServedName } from './tls-names.ts';
import { notValidAt, readKeyPair, type KeyPair } from './tls.ts';

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
  /** The names tenement serves now (tls-names.ts servedNames of the config in force). */
  served(): ServedName[];
  hooks: Hooks;
  log: Logger;
}

/** Longest wait before a renewal that is not valid yet is read again (setTimeout's bound is ~24.8 days). */
const RETRY_MAX_MS = 24 * 3600 * 1000;

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
  /** Reads the files again once a refused renewal's notBefore has come. */
  private retry: NodeJS.Timeout | undefined;

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
    clearTimeout(this.retry);
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
    if (this.closed) return;
    const pair = readKeyPair(d.cert, d.key);
    if (pair instanceof TenementError) {
      d.log.error({ code: pair.code, cert: d.cert, key: d.key, serial: this.current.serial }, `tls: certificate not reloaded: ${pair.message}; the certificate in force (serial ${this.current.serial}) stays`);
      return this.event(`certificate not reloaded: ${pair.code}: ${pair.message}; the certificate in force (serial ${this.current.serial}) stays`, { outcome: 'refused', code: pair.code, serial: this.current.serial });
    }
    if (pair.fingerprint === this.current.fingerprint && pair.key.equals(this.current.key)) return; // touched, not renewed
    const worse = this.worse(pair);
    if (worse) {
      d.log.warn({ code: worse.code, cert: d.cert, serial: pair.serial, in_force: this.current.serial }, `tls: certificate not reloaded: ${worse.message}; the certificate in force (serial ${this.current.serial}) stays`);
      return this.event(`certificate not reloaded: ${worse.code}: ${worse.message} (serial ${pair.serial}); the certificate in force (serial ${this.current.serial}) stays`, { outcome: 'refused', code: worse.code, serial: this.current.serial });
    }
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
    const left = uncoveredNames(pair.cert, d.served());
    if (left.length > 0) {
      const e = new TenementError('TEN_ERR_TLS_CERT_NAMES', [d.cert, listNames(left)]);
      d.log.warn({ code: e.code, cert: d.cert, serial: pair.serial, uncovered: left.map((n) => n.name) }, `tls: ${e.message}`);
    }
  }

  /**
   * Why the renewal `pair` would make HTTPS worse than the pair in force, or undefined: out of its
   * dates while the one in force is in them (one not valid yet is read again when it becomes so),
   * or covering none of the names served while the one in force covers some.
   */
  private worse(pair: KeyPair): TenementError | undefined {
    const now = Date.now();
    const dates = notValidAt(pair, this.d.cert, now);
    if (dates && !notValidAt(this.current, this.d.cert, now)) {
      if (dates.code === 'TEN_ERR_TLS_CERT_NOT_YET_VALID') {
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.load(), Math.min(Date.parse(pair.notBefore) - now + 1000, RETRY_MAX_MS)).unref();
      }
      return dates;
    }
    const served = this.d.served();
    const left = uncoveredNames(pair.cert, served);
    if (left.length === served.length && uncoveredNames(this.current.cert, served).length < served.length) {
      return new TenementError('TEN_ERR_TLS_CERT_NAMES', [this.d.cert, `any name tenement serves: ${listNames(served)} (its names: ${pair.names.join(', ')})`]);
    }
    return undefined;
  }

  private event(message: string, fields: Record<string, string>): void {
    this.d.hooks.event.call({ at: Date.now(), source: CORE_TAP, kind: 'certificate', service: '', message, fields });
  }
}
