/**
 * JSON responses written on node:http directly, byte for byte what Express's `res.json` writes
 * (`application/json; charset=utf-8`, a Content-Length), so the JSON APIs need no Express
 * response object. On HEAD, node:http sends the head alone.
 */
import type { ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}
