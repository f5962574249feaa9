/**
 * What becomes of anything thrown that is not an OmsError. Database failures the storage layer
 * recognises keep their catalogue names (src/db/errors.ts); the rest is logged with a log id and
 * answered as InternalError, its text never sent. Apart from errors.ts so that the storage layer,
 * which builds OmsErrors, stays below it without an import cycle.
 */
import { randomUUID } from 'node:crypto';
import { databaseError } from '../db/errors.ts';
import { oms, type OmsError } from './errors.ts';

export function internal(e: unknown, log: { error: (o: object, m: string) => void }): OmsError {
  // Statements report their own operation (src/db/errors.ts); what escapes them, such as the
  // COMMIT of a transaction, is a write that failed.
  const db = databaseError(e, 'update');
  if (db) {
    log.error({ err: e }, 'database failure');
    return db;
  }
  const logId = randomUUID().slice(0, 8);
  log.error({ logId, err: e }, 'unexpected error');
  return oms('InternalError', { logId });
}
