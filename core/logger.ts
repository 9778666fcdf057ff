// Structured logs (pino): JSON lines when stdout is not a terminal, pretty lines when it is.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.TENEMENT_LOG_LEVEL ?? 'info';
  const usePretty = opts.pretty ?? (process.stdout.isTTY === true || process.env.TENEMENT_LOG_PRETTY === '1');
  if (!usePretty) return pino({ level, base: { pid: process.pid } });
  return pino({ level }, pretty({ colorize: process.stdout.isTTY === true, sync: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' }));
}

export type { Logger };
