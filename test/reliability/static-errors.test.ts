/**
 * Found by the HTTP fuzz: `express.static` (send) reports a missing file as an http-error 404
 * with `expose: false` (its message names a path), and `errorAnswer` turned that into a 500.
 * A client error stays a client error; the message is never shown either way.
 */
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { errorAnswer } from '../../src/index.js';
import { startProvider, type RunningProvider } from '../examples/helpers/provider.js';

describe('reliability: http-errors that hide their message keep their 4xx', function () {
  this.timeout(20_000);
  let op: RunningProvider;
  before(async () => {
    op = await startProvider({ host: '127.0.0.1', clients: [{ client_id: 'app', client_secret: 'app-secret-0123456789abcdef', redirect_uris: ['http://127.0.0.1:9/cb'] }] });
  });
  after(async () => {
    await op?.close();
  });

  it('errorAnswer: a 404 from express.static (expose: false) is a 404 without its message', async () => {
    let seen: unknown;
    const app = express();
    app.use('/s', express.static(new URL('../../examples/provider/static/', import.meta.url).pathname, { fallthrough: false }));
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen = err;
      const a = errorAnswer(err);
      res.status(a.status).json(a.body);
    });
    const res = await request(app).get('/s/missing.css');
    assert.equal((seen as { expose?: unknown }).expose, false, 'send hides the message of its 404');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: 'invalid_request' }, 'no path or message in the body');
    // Not every object with a status is an http-error: without `expose` it is still a 500.
    assert.equal(errorAnswer(Object.assign(new Error('upstream said 404'), { status: 404 })).status, 500);
  });

  it('the example provider answers missing static files 404 and logs no unexpected error', async () => {
    for (const path of ['/static/missing.css', '/static/style.css/', '/static/style.css/x']) {
      const res = await request(op.issuer).get(path).redirects(0);
      assert.equal(res.status, 404, path);
    }
    assert.equal((await request(op.issuer).get('/static/style.css')).status, 200);
    assert.deepEqual(op.logs.filter((l) => l.startsWith('error:')), []);
  });
});
