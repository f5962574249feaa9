/** Session ids and API tokens: random, shown once, stored only as SHA-256 digests. */
import { createHash, randomBytes } from 'node:crypto';

/** 160 bits, upper-case hex, the shape of an OMS SESSID. */
export const newSessionId = (): string => randomBytes(20).toString('hex').toUpperCase();

/** API tokens carry a prefix so they are recognisable in a leaked-secret scan and never look like a SESSID. */
export const newApiToken = (): string => `oms_${randomBytes(32).toString('base64url')}`;

/** Session ids are hex, so their case carries no meaning: normalise before hashing. */
export const digest = (secret: string): string =>
  createHash('sha256').update(/^[0-9a-fA-F]{40}$/.test(secret) ? secret.toUpperCase() : secret, 'utf8').digest('hex');
