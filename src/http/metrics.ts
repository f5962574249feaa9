/**
 * GET /metrics: the Prometheus text exposition of app.metrics. Never open by default: a scrape
 * is answered only for
 *   - `Authorization: Bearer <API token or session id>` of a user holding `metrics.view` on `/`
 *     (the built-in role Monitoring has just that), or
 *   - a peer address covered by OMS_METRICS_ALLOW (empty by default: nobody by address).
 * Anything else gets 401 (no or unknown credentials) or 403 (a user without the privilege) and
 * no metric data.
 */
import type { Request, Response } from 'express';
import type { AppServices } from '../app.ts';
import { paths } from '../auth/permissions.ts';
import { isOmsError } from '../rpc/errors.ts';
import { parseAllowList } from '../metrics/allow-list.ts';

export const METRICS_PATH = '/metrics';

const refuse = (res: Response, status: 401 | 403, reason: string) => {
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="oms-metrics"');
  res.status(status).type('text/plain').send(`${reason}\n`);
};

/** The route handler; parses OMS_METRICS_ALLOW now, so a malformed setting stops the start-up. */
export function metricsRoute(app: AppServices): (req: Request, res: Response) => Promise<void> {
  const allow = parseAllowList(app.config.metricsAllow);
  if (allow.size) app.log.info({ allow: allow.entries }, '/metrics may be scraped without a token from these addresses');
  const log = app.log.child({ part: 'metrics' });

  return async (req, res) => {
    const remote = req.socket.remoteAddress;
    if (!allow.allows(remote)) {
      // Only a bearer header: a session id in the URL would end up in proxy and scraper logs.
      const m = /^Bearer\s+(\S{1,200})$/i.exec(req.headers.authorization ?? '');
      if (!m) return refuse(res, 401, 'metrics need a bearer token with metrics.view, or an address in OMS_METRICS_ALLOW');
      let principal;
      try {
        principal = app.sessions.resolve(m[1]);
      } catch (e) {
        if (!isOmsError(e)) throw e;
        log.info({ remote }, 'metrics scrape with an invalid token refused');
        return refuse(res, 401, 'invalid or expired token');
      }
      if (!app.permissions.has(principal.userId, principal.userName, 'metrics.view', paths.root)) {
        log.info({ remote, user: principal.userName }, 'metrics scrape without metrics.view refused');
        return refuse(res, 403, 'metrics.view on / is needed');
      }
    }
    const body = await app.metrics.scrape();
    res.status(200).type(app.metrics.contentType).send(body);
  };
}
