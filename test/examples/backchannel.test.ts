/**
 * Back-channel logout delivery failures are logged with their cause (the newcomer audit found
 * only `failed: TypeError`): a refused connection, a dropped socket, a timeout, each over real
 * HTTP to loopback, and never with the logout token or a credential from the URI.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import type { webcrypto } from 'node:crypto';
import { generateKeyPair } from 'jose';
import { notifyBackchannel, type Signer } from '../../examples/provider/backchannel.js';
import { ClientRegistry, parseClients } from '../../examples/provider/clients.js';
import { freePort } from '../helpers/redis-server.js';

async function listening<S extends Server | ReturnType<typeof createHttpServer>>(server: S): Promise<{ server: S; port: number }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describe('examples/provider back-channel logout delivery', () => {
  let signer: Signer;
  const opened: Array<Server | ReturnType<typeof createHttpServer>> = [];
  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    signer = { issuer: 'http://127.0.0.1:1', privateKey: privateKey as webcrypto.CryptoKey, publicKey: publicKey as webcrypto.CryptoKey, kid: 'k1' };
  });
  after(async () => {
    for (const s of opened) {
      (s as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise((r) => s.close(r));
    }
  });

  /** Delivers one notice to `uri` and returns the result and what was logged. */
  async function deliver(uri: string, timeoutMs = 5000) {
    const [client] = parseClients([{ client_id: 'rp', client_secret: 'rp-secret-0123456789', redirect_uris: ['http://127.0.0.1:9/cb'] }]);
    const logs: string[] = [];
    const results = await notifyBackchannel([{ clientId: 'rp', sub: 'subject-1', sid: 'sid-1' }], new ClientRegistry([{ ...client!, backchannel_logout_uri: uri }]), signer, {
      timeoutMs,
      log: (m) => logs.push(m),
    });
    assert.equal(results.length, 1);
    for (const l of logs) {
      assert.doesNotMatch(l, /eyJ/, 'no logout token (a JWT) in the log');
      assert.doesNotMatch(l, /secret/i, 'no credential in the log');
    }
    return { result: results[0]!, logs };
  }

  it('a refused connection is logged as ECONNREFUSED, not just TypeError', async () => {
    const port = await freePort(); // nothing listens there
    const { result, logs } = await deliver(`http://127.0.0.1:${port}/backchannel`);
    assert.equal(result.ok, false);
    assert.deepEqual(logs, [`back-channel logout to client "rp" failed: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:${port})`]);
  });

  it('a dropped connection, a timeout and a URI with credentials each say what happened', async () => {
    const dropper = await listening(createServer((socket) => socket.destroy()));
    const silent = await listening(createHttpServer(() => {})); // reads the request, never answers
    opened.push(dropper.server, silent.server);
    const dropped = await deliver(`http://127.0.0.1:${dropper.port}/backchannel`);
    assert.deepEqual(dropped.logs, ['back-channel logout to client "rp" failed: UND_ERR_SOCKET (other side closed)']);
    const timedOut = await deliver(`http://127.0.0.1:${silent.port}/backchannel`, 300);
    assert.deepEqual(timedOut.logs, ['back-channel logout to client "rp" failed: no answer within 300 ms']);
    // fetch refuses such a URI with a message that quotes it: only the error's name is logged.
    const withCredentials = await deliver(`http://rp:secret-password@127.0.0.1:${silent.port}/backchannel`);
    assert.deepEqual(withCredentials.logs, ['back-channel logout to client "rp" failed: TypeError']);
    for (const r of [dropped, timedOut, withCredentials]) assert.equal(r.result.ok, false);
  });

  it('a 200 is a success and logs nothing', async () => {
    const ok = await listening(createHttpServer((_req, res) => res.end()));
    opened.push(ok.server);
    const { result, logs } = await deliver(`http://127.0.0.1:${ok.port}/backchannel`);
    assert.deepEqual([result.ok, result.status, logs], [true, 200, []]);
  });
});
