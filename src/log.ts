/**
 * Structured logging. Secrets must never reach a log line: RPC params are not logged at all, and
 * the redaction list below catches fields that carry them if someone logs an object by mistake.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export const redactedFields = ['password', 'sessid', 'SESSID', 'token', 'ticket', 'privateKey', 'authorization', 'params'];

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { svc: 'oms' },
      redact: { paths: [...redactedFields, ...redactedFields.map((f) => `*.${f}`)], censor: '[redacted]' },
    },
    destination ?? pino.destination(2),
  );
}
