/** The audit trail: one row for every call that changes something, whether it succeeded or not. */
import type { Db } from '../db/database.ts';

export interface AuditEntry {
  requestId: string;
  user?: string;
  remote?: string;
  service: string;
  method: string;
  target?: string;
  outcome: string;
  detail?: unknown;
}

export class AuditLog {
  constructor(private readonly db: Db) {}

  record(e: AuditEntry): void {
    this.db
      .prepare('INSERT INTO audit (at, request_id, user_name, remote, service, method, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(Date.now(), e.requestId, e.user ?? null, e.remote ?? null, e.service, e.method, e.target ?? null, e.outcome, e.detail === undefined ? null : JSON.stringify(e.detail));
  }

  /**
   * The newest rows first. `method` is `service.method` or a bare method name; `since` and `until`
   * (milliseconds) bound `at`, inclusive.
   */
  list(opts: { limit: number; user?: string; method?: string; since?: number; until?: number }): unknown[] {
    const dot = opts.method?.indexOf('.') ?? -1;
    const service = opts.method && dot > 0 ? opts.method.slice(0, dot) : null;
    const method = opts.method ? opts.method.slice(dot + 1) : null;
    return this.db
      .prepare(
        `SELECT at, request_id AS requestId, user_name AS user, remote, service, method, target, outcome, detail FROM audit
         WHERE (@user IS NULL OR user_name = @user) AND (@service IS NULL OR service = @service) AND (@method IS NULL OR method = @method)
           AND at >= @since AND (@until IS NULL OR at <= @until) ORDER BY id DESC LIMIT @limit`,
      )
      .all({ user: opts.user ?? null, service, method, since: opts.since ?? 0, until: opts.until ?? null, limit: opts.limit })
      .map((r) => {
        const row = r as { detail: string | null };
        return { ...row, detail: row.detail ? JSON.parse(row.detail) : null };
      });
  }
}
