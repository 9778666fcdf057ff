// One HTTP/1.1 exchange over a raw TCP socket: the bytes sent are exactly the ones given (two Host
// lines, a NUL, a 10 KB header, a body larger than it says), and the answer is read until the
// server closes the connection. For the hostile-input tests, which need what http.request refuses
// to send.
import net from 'node:net';

export interface RawReply {
  /** The status code, or undefined when the server closed without a status line. */
  status?: number;
  /** Header fields, names lowercased; a repeated field keeps its last value. */
  headers: Record<string, string>;
  /** Everything after the head, as received (chunked framing included). */
  body: string;
  /** The `code` of a tenement JSON error body, if there is one. */
  code?: string;
}

/** A request head: `METHOD TARGET HTTP/1.1`, the given header lines (verbatim, in order), then
 *  `Connection: close` and, with a body, its Content-Length unless a framing header is given. */
export function rawHead(method: string, target: string, lines: string[], body?: Buffer): Buffer {
  const framed = lines.some((l) => /^(content-length|transfer-encoding):/i.test(l));
  const all = [...lines, 'Connection: close', ...(body !== undefined && !framed ? [`Content-Length: ${body.length}`] : [])];
  return Buffer.from(`${method} ${target} HTTP/1.1\r\n${all.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1');
}

/** Sends `bytes` to 127.0.0.1:port and resolves with the answer once the server closes the
 *  connection; rejects after `timeoutMs` without one (a hang). A write the server refused midway
 *  (it answered early, then closed: a 413 before the whole body) is not an error: the answer is. */
export function rawExchange(port: number, bytes: Buffer | Buffer[], timeoutMs = 10_000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms (${Buffer.concat(chunks).length} bytes received)`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      resolve(parseReply(Buffer.concat(chunks)));
    };
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', finish);
    socket.on('error', () => undefined); // EPIPE / ECONNRESET after an early answer: 'close' follows
    socket.on('connect', () => {
      for (const b of [bytes].flat()) socket.write(b);
    });
  });
}

function parseReply(raw: Buffer): RawReply {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine, ...lines] = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine ?? '');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const colon = l.indexOf(':');
    if (colon > 0) headers[l.slice(0, colon).trim().toLowerCase()] = l.slice(colon + 1).trim();
  }
  const body = end < 0 ? '' : raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1')).toString('utf8');
  const code = /"code":"(TEN_ERR_[A-Z_]+)"/.exec(body)?.[1];
  return { status: m ? Number(m[1]) : undefined, headers, body, code };
}
