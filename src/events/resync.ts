/**
 * When a subscriber cannot be given everything after its `since`, it gets one `resync` event
 * instead of a silent gap: re-read what you show, then go on. Its seq is the position the
 * stream continues from, so ids stay increasing (SSE `Last-Event-ID`) and resuming with
 * `since` = that seq picks up exactly where the stream stands.
 */
import type { JournalBounds } from './journal.ts';
import type { OmsEvent } from './types.ts';

export type ResyncReason = 'journal' | 'unknown-since' | 'slow';

export const resyncEvent = (seq: number, reason: ResyncReason, detail: Record<string, unknown> = {}): OmsEvent => ({
  seq,
  time: Date.now(),
  type: 'resync',
  action: 'resync',
  data: { reason, ...detail },
});

/**
 * What resuming after `since` needs: nothing (every later event is still in the journal), or a
 * resync at the position where the journal continues. A `since` beyond the last seq handed out
 * comes from another journal (a database restored or replaced): resync at the newest.
 */
export function resumeFrom(since: number, b: JournalBounds): { resync?: OmsEvent; position: number } {
  if (since > b.latest) return { resync: resyncEvent(b.latest, 'unknown-since', { since, latest: b.latest }), position: b.latest };
  const firstKept = b.oldest ?? b.latest + 1;
  if (since < firstKept - 1) return { resync: resyncEvent(firstKept - 1, 'journal', { since, oldest: b.oldest ?? null, latest: b.latest }), position: firstKept - 1 };
  return { position: since };
}
