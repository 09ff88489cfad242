// Behaviours of node:http that real apps rely on, checked through wardend against the same app served directly
// (findings of running real apps side by side: an event stream's head held back until its first event, a response
// lost when the app exits right after it).
import { type ChildProcess, spawn } from 'child_process';
import { connect } from 'net';
import { join } from 'path';
import { ROOT, cleanup, freePort, http, putAppWithListener, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const APP_DIR = join(ROOT, 'test/e2e/apps/node-compat');

/** Sends a GET and resolves with the time (ms) until the end of the response head, and the whole answer. */
function timedGet(port: number, path: string, version = '1.1'): Promise<{ headMs: number; text: string }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let headMs = -1;
    let text = '';
    const sock = connect(port, '127.0.0.1', () => sock.write(`GET ${path} HTTP/${version}\r\nHost: x\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (headMs < 0 && text.includes('\r\n\r\n')) headMs = Date.now() - t0;
    });
    sock.on('error', reject);
    sock.on('close', () => resolve({ headMs, text }));
  });
}

describe.each(['direct', 'wardend'])('a Node app served %s', (how) => {
  let dir: string;
  let w: Wardend | undefined;
  let direct: ChildProcess | undefined;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-node-compat-');
    if (how === 'wardend') {
      w = await startWardend([], dir);
      await w.control('PUT', '/config', { listeners: {}, applications: {} });
      port = await putAppWithListener(w, 'app', { type: 'node', working_directory: APP_DIR, script: 'server.js' });
    } else {
      port = await freePort();
      direct = spawn(process.execPath, [join(APP_DIR, 'server.js')], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
      await waitUntil(async () => (await http(port, '/').catch(() => ({ status: 0 }))).status === 200, 'the app listens');
    }
  });
  afterAll(async () => {
    direct?.kill();
    await w?.stop();
    cleanup(dir);
  });

  it('sends the head of an event stream at res.flushHeaders(), not with its first event', async () => {
    const { headMs, text } = await timedGet(port, '/events');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Content-Type: text\/event-stream\r\n/);
    expect(text.endsWith('data: first\n\n\r\n0\r\n\r\n')).toBe(true);
    expect(headMs).toBeGreaterThanOrEqual(0);
    expect(headMs).toBeLessThan(1000); // the event comes 1.5 s later
  });

  it("applies the server's timeout (server.setTimeout) to a request: no listener, so the connection is destroyed", async () => {
    const t0 = Date.now();
    const { text } = await timedGet(port, '/slow');
    expect(text).toBe('');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2400);
    expect(Date.now() - t0).toBeLessThan(3800); // the app answers at 4 s
  });

  it('answers an HTTP/1.0 request without Content-Length, the body ending with the connection, as node:http', async () => {
    const { text } = await timedGet(port, '/', '1.0');
    const [head, body] = text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\nConnection: close(\r\n|$)/i);
    expect(head).not.toMatch(/content-length|transfer-encoding/i);
    expect(body).toMatch(/^pid \d+$/);
  });

  it('delivers the answer of an app that exits right after res.end()', async () => {
    // Served directly the app answers once and is gone (this test runs last); through wardend, three times, each
    // by the process started in place of the one before.
    for (let i = 0; i < (how === 'direct' ? 1 : 3); i++) {
      const { text } = await timedGet(port, '/exit');
      expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nbye$/);
      if (how === 'direct') break;
      await waitUntil(async () => (await http(port, '/').catch(() => ({ status: 0 }))).status === 200, 'a new process serves');
    }
  }, 60_000);
});
