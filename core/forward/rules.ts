// Small rules of the intermediary that the proxy applies per request: which methods may be sent
// twice, whether a request has a body, what a failed attempt's error means, and Max-Forwards.
import type http from 'node:http';
import type { AttemptError } from './attempt.ts';

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one request. */
export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export type Kind = 'refused' | 'reset' | 'timeout' | 'other';

/** What a failed attempt's error says about the request: was it sent, is it worth sending again. */
export function classify(err: AttemptError): Kind {
  switch (err.code) {
    case 'ECONNREFUSED': case 'ENOENT': case 'UND_ERR_CONNECT_TIMEOUT': return 'refused';
    // UND_ERR_DESTROYED: the instance's pool was closed under the request because its process
    // exited (Forwarder.drop on the transition) — the same outcome as a reset connection
    case 'ECONNRESET': case 'EPIPE': case 'UND_ERR_SOCKET': case 'UND_ERR_CLOSED': case 'UND_ERR_DESTROYED': return 'reset';
    case 'UND_ERR_HEADERS_TIMEOUT': return 'timeout';
    default: return 'other';
  }
}

/** Whether the request has a body (RFC 9112 §6.3: Transfer-Encoding, or Content-Length > 0). */
export function hasBody(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i];
    if (n.length === 17 && n.toLowerCase() === 'transfer-encoding') return true;
    if (n.length === 14 && n.toLowerCase() === 'content-length' && raw[i + 1].trim() !== '0') return true;
  }
  return false;
}

/** A Max-Forwards: 0 on TRACE or OPTIONS: the request must not go further (RFC 9110 §7.6.2). */
export function maxForwardsZero(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 12 && raw[i].toLowerCase() === 'max-forwards') return /^0+$/.test(raw[i + 1].trim());
  }
  return false;
}

/** Answer as the final recipient (RFC 9110 §7.6.2): OPTIONS → 200; TRACE → the request as
 *  received, less the fields that carry credentials (RFC 9110 §9.3.8). */
export function answerAsRecipient(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method === 'OPTIONS') return void res.writeHead(200, ['content-length', '0']).end();
  const sensitive = new Set(['authorization', 'cookie', 'proxy-authorization']);
  let echo = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (!sensitive.has(req.rawHeaders[i].toLowerCase())) echo += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  }
  echo += '\r\n';
  res.writeHead(200, ['content-type', 'message/http', 'content-length', String(Buffer.byteLength(echo, 'latin1'))]).end(echo, 'latin1');
}
