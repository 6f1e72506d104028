/**
 * Saving the express session *before* a redirect. express-session saves at the end of the
 * response but flushes the headers first, so a fast browser can follow a 303 and send the next
 * request before the store has the session it depends on (a parked authorization request, a
 * fresh login). Every redirect that relies on what this request put in the session awaits
 * this first (express-session's own advice).
 */
import type { Request } from 'express';

export function saveSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!req.session) return resolve();
    req.session.save((err: unknown) => (err ? reject(err) : resolve()));
  });
}
