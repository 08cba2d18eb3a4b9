// The logger: pino, structured, constant messages with the variable parts in
// fields. Secrets are redacted by path wherever they might appear.

import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

/** JSON lines by default; readable lines when printing to a terminal (unless `json` is forced). */
export function createLogger(level: string, format: 'auto' | 'json' | 'pretty' = 'json', destination?: pino.DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'napbox' } };
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  if (pretty && !destination) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } },
    });
  }
  return pino(options, destination);
}
