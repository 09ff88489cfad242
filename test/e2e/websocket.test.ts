import { once } from 'events';
import { createServer, type Server } from 'http';
import { join } from 'path';
import WebSocket, { WebSocketServer } from 'ws';
import { io as ioClient } from 'socket.io-client';
import {
  ROOT,
  cleanup,
  freePort,
  goBuild,
  haveGo,
  http,
  putAppWithListener,
  startWardend,
  waitUntil,
  wardendRss,
  worldDir,
  type Wardend,
} from './support/wardend';

const APP_DIR = join(ROOT, 'test/e2e/apps/ws-node');
const HELLO_DIR = join(ROOT, 'packages/app-types/test/fixtures');

/** Opens a WebSocket to 127.0.0.1:port/path; rejects with ws's error (e.g. "Unexpected server response: 200"). */
async function connect(port: number, path = '/echo', opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { maxPayload: 64 << 20, ...opts });
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  return ws;
}

async function stats(port: number): Promise<{ open: number; closes: number[]; pid: number }> {
  return JSON.parse((await http(port, '/stats')).body.toString());
}

describe('WebSockets through wardend (upgrade requests tunnelled over the channel)', () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-ws-');
    w = await startWardend([], dir);
    // Unit's default max_frame_size (1 MiB, header included) refuses a 1 MiB payload: room for the 1 MiB frames.
    await w.control('PUT', '/config', { listeners: {}, applications: {}, settings: { http: { websocket: { max_frame_size: 4 << 20 } } } });
    port = await putAppWithListener(w, 'ws', { type: 'node', working_directory: APP_DIR, script: 'server.js' });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('echoes 10,000 messages both ways in order through a ws client and an unmodified ws server', async () => {
    const ws = await connect(port);
    const n = 10_000;
    const got: string[] = [];
    const all = new Promise<void>((ok) =>
      ws.on('message', (d) => {
        got.push(d.toString());
        if (got.length === n) ok();
      }),
    );
    for (let i = 0; i < n; i++) ws.send(`message ${i}`);
    await all;
    expect(got).toEqual(Array.from({ length: n }, (_, i) => `message ${i}`));
    ws.close();
    await once(ws, 'close');
  });

  it('echoes 1 MiB binary frames intact', async () => {
    const ws = await connect(port);
    for (let i = 0; i < 4; i++) {
      const frame = Buffer.alloc(1 << 20, i + 1);
      frame.writeUInt32BE(i, 0);
      ws.send(frame);
      const [data, isBinary] = await once(ws, 'message');
      expect(isBinary).toBe(true);
      expect((data as Buffer).equals(frame)).toBe(true);
    }
    ws.close();
    await once(ws, 'close');
  });

  it('answers a ping with a pong carrying the same payload', async () => {
    const ws = await connect(port);
    ws.ping(Buffer.from('are you there'));
    const [payload] = await once(ws, 'pong');
    expect((payload as Buffer).toString()).toBe('are you there');
    ws.close();
    await once(ws, 'close');
  });

  it('carries close codes both ways: the client closes with 4000, the server with 4001', async () => {
    const a = await connect(port);
    a.close(4000, 'client closes');
    const [codeA] = await once(a, 'close');
    expect(codeA).toBe(4000); // the server echoed the client's close
    await waitUntil(async () => (await stats(port)).closes.includes(4000), 'the app saw close code 4000');

    const b = await connect(port);
    b.send('close:4001');
    const [codeB, reason] = await once(b, 'close');
    expect(codeB).toBe(4001);
    expect((reason as Buffer).toString()).toBe('server closes');
  });

  it('serves socket.io with transports: ["websocket"]', async () => {
    const socket = ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
    try {
      await new Promise<void>((ok, fail) => {
        socket.once('connect', () => ok());
        socket.once('connect_error', fail);
      });
      const answers: unknown[] = [];
      for (let i = 0; i < 20; i++) {
        socket.emit('echo', { i, text: 'héllo' });
        const payload = await new Promise<unknown>((ok) => socket.once('echo', ok));
        answers.push(payload);
      }
      expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => ({ i, text: 'héllo' })));
      expect(socket.io.engine.transport.name).toBe('websocket');
    } finally {
      socket.close();
    }
  });

  it('passes a client that disappears on to the app as a closed socket', async () => {
    const before = (await stats(port)).open;
    const ws = await connect(port);
    await waitUntil(async () => (await stats(port)).open === before + 1, 'the app counts the new socket');
    (ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
    await waitUntil(async () => (await stats(port)).open === before, 'the app saw the socket close');
  });

  it('survives a client that resets its connection (RST) while the app streams to it', async () => {
    const ws = await connect(port);
    ws.send('flood:64');
    await once(ws, 'message'); // the stream is flowing
    (ws as unknown as { _socket: { resetAndDestroy(): void } })._socket.resetAndDestroy();
    const again = await connect(port);
    again.send('still here');
    const [d] = await once(again, 'message');
    expect(d.toString()).toBe('still here');
    again.close();
    await once(again, 'close');
    expect(w.proc.exitCode).toBeNull();
  });

  it('keeps wardend memory bounded while a client reads nothing and the app sends 256 MiB', async () => {
    const ws = await connect(port);
    const sock = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    const start = wardendRss(w);
    sock.pause();
    ws.send('flood:256');
    // Let the app push as much as the path takes: its own ws buffer fills, the channel stops granting credit.
    let peak = start;
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 100));
      peak = Math.max(peak, wardendRss(w));
    }
    expect(peak - start).toBeLessThan(48 << 20);
    let bytes = 0;
    const done = new Promise<void>((ok) =>
      ws.on('message', (d, isBinary) => {
        if (isBinary) bytes += (d as Buffer).length;
        else if (d.toString() === 'flood done') ok();
      }),
    );
    sock.resume();
    await done;
    expect(bytes).toBe(256 << 20);
    ws.close();
    await once(ws, 'close');
  }, 120_000);

  it('holds 1,000 concurrent WebSocket connections, each echoing, and reports wardend memory per connection', async () => {
    const before = wardendRss(w);
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 1000; i += 50) {
      sockets.push(...(await Promise.all(Array.from({ length: 50 }, () => connect(port)))));
    }
    const replies = await Promise.all(
      sockets.map(async (ws, i) => {
        ws.send(`hi ${i}`);
        const [d] = await once(ws, 'message');
        return d.toString();
      }),
    );
    expect(replies).toEqual(sockets.map((_, i) => `hi ${i}`));
    const after = wardendRss(w);
    process.stdout.write(
      `wardend RSS (main and routers): ${(before / 2 ** 20).toFixed(1)} MiB before, ${(after / 2 ** 20).toFixed(1)} MiB with 1,000 WebSockets open: ${((after - before) / 1000 / 1024).toFixed(1)} KiB per connection\n`,
    );
    await Promise.all(
      sockets.map((ws) => {
        ws.close();
        return once(ws, 'close');
      }),
    );
  }, 120_000);

  it('keeps a WebSocket open through a restart of its app: the old process serves it to its end, then exits', async () => {
    const before = await connect(port);
    const oldPid = (await stats(port)).pid;
    const restart = await w.control('GET', '/control/applications/ws/restart');
    expect(restart.status).toBe(200);
    await waitUntil(async () => (await stats(port)).pid !== oldPid, 'the new process serves new requests');
    await new Promise((r) => setTimeout(r, 1000));
    before.send('still here');
    const [m] = await once(before, 'message');
    expect(m.toString()).toBe('still here'); // the old process, as Unit quits a process only when nothing is pending
    expect(() => process.kill(oldPid, 0)).not.toThrow();
    const after = await connect(port);
    after.send('new');
    expect((await once(after, 'message'))[0].toString()).toBe('new');
    after.close();
    before.close(1000);
    expect((await once(before, 'close'))[0]).toBe(1000);
    await waitUntil(async () => {
      try {
        process.kill(oldPid, 0);
        return false;
      } catch {
        return true;
      }
    }, 'the old process exits once its last WebSocket closed');
  }, 30_000);

  it('closes the clients of an app that crashes with open sockets, and serves the next connection', async () => {
    const a = await connect(port);
    const b = await connect(port);
    const crashed = (await stats(port)).pid;
    const closed = Promise.all([once(a, 'close'), once(b, 'close')]);
    await http(port, '/crash').catch(() => undefined);
    const [[codeA], [codeB]] = await closed;
    expect(codeA).toBe(1006); // abnormal closure: the connection was dropped
    expect(codeB).toBe(1006);
    // wardend keeps serving: a replacement process answers (a request racing the crash itself may get 502).
    await waitUntil(async () => (await stats(port).catch(() => ({ pid: crashed }))).pid !== crashed, 'a replacement process serves');
    const c = await connect(port);
    c.send('after the crash');
    const [d] = await once(c, 'message');
    expect(d.toString()).toBe('after the crash');
    c.close();
  }, 60_000);
});

describe("Unit's settings.http.websocket applied to WebSocket tunnels", () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-ws-settings-');
    w = await startWardend([], dir);
    const res = await w.control('PUT', '/config', {
      listeners: {},
      applications: {},
      settings: { http: { websocket: { max_frame_size: 1024, read_timeout: 2, keepalive_interval: 1 } } },
    });
    expect(res.status).toBe(200);
    port = await putAppWithListener(w, 'ws', { type: 'node', working_directory: APP_DIR, script: 'server.js' });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('closes with 1009 a client frame larger than max_frame_size (header included), and passes one that fits', async () => {
    const ws = await connect(port);
    ws.send(Buffer.alloc(1000, 1));
    const [echo] = await once(ws, 'message');
    expect((echo as Buffer).length).toBe(1000);
    ws.send(Buffer.alloc(1100, 2));
    const [code, reason] = await once(ws, 'close');
    expect(code).toBe(1009);
    expect((reason as Buffer).toString()).toBe('Message too big: 1100 bytes'); // Unit's words
  });

  it('pings an idle client every keepalive_interval, and its pongs keep it within read_timeout', async () => {
    const ws = await connect(port);
    let pings = 0;
    ws.on('ping', () => pings++);
    await waitUntil(() => pings >= 3, 'three pings from the router', 10_000);
    expect(ws.readyState).toBe(WebSocket.OPEN); // 3 s > read_timeout: the pongs counted as client bytes
    ws.close();
    await once(ws, 'close');
  });

  it('closes with 1001 a client that sends nothing for read_timeout', async () => {
    const ws = await connect(port, '/echo', { autoPong: false } as WebSocket.ClientOptions);
    const [code] = await once(ws, 'close');
    expect(code).toBe(1001);
  });

  it('refuses an unknown key in settings.http.websocket', async () => {
    const res = await w.control('PUT', '/config/settings/http/websocket', { max_frame: 1 });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/max_frame/);
  });
});

describe('upgrade requests to apps and actions that do not upgrade', () => {
  let dir: string;
  let w: Wardend;

  beforeAll(async () => {
    dir = worldDir('warden-ws-plain-');
    w = await startWardend([], dir);
    await w.control('PUT', '/config', { listeners: {}, applications: {} });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('gives an app without an upgrade listener the request as a plain request, as node:http does', async () => {
    const port = await putAppWithListener(w, 'hello', { type: 'node', working_directory: HELLO_DIR, script: 'hello-cjs.js' });
    await expect(connect(port, '/hello')).rejects.toThrow('Unexpected server response: 200');
  });

  it('proxies an upgrade to the upstream and pipes both directions', async () => {
    const upstream: Server = createServer((_req, res) => res.end('upstream plain'));
    const wss = new WebSocketServer({ server: upstream });
    wss.on('connection', (ws) => ws.on('message', (d, bin) => ws.send(bin ? d : `upstream: ${d.toString()}`, { binary: bin })));
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    try {
      const up = (upstream.address() as { port: number }).port;
      const port = await freePort();
      expect((await w.control('PUT', '/config/routes', [{ action: { proxy: `http://127.0.0.1:${up}` } }])).status).toBe(200);
      expect((await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: 'routes' })).status).toBe(200);
      const ws = await connect(port, '/');
      ws.send('through the proxy');
      const [d] = await once(ws, 'message');
      expect(d.toString()).toBe('upstream: through the proxy');
      const big = Buffer.alloc(4 << 20, 9);
      ws.send(big);
      const [echo] = await once(ws, 'message');
      expect((echo as Buffer).equals(big)).toBe(true);
      ws.close(4002);
      const [code] = await once(ws, 'close');
      expect(code).toBe(4002);
    } finally {
      wss.close();
      upstream.close();
    }
  });
});

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('Go WebSocket e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');

describeGo('a Go app hijacking upgrade requests (http.Hijacker over the channel)', () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-ws-go-');
    const exe = goBuild(join(ROOT, 'test/e2e/apps/ws-go'), join(dir, 'ws-go'));
    w = await startWardend([], dir);
    await w.control('PUT', '/config', { listeners: {}, applications: {}, settings: { http: { websocket: { max_frame_size: 4 << 20 } } } });
    port = await putAppWithListener(w, 'wsgo', { type: 'external', executable: exe });
  }, 120_000);
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('echoes text and 1 MiB binary messages through a stdlib WebSocket handshake on the hijacked net.Conn', async () => {
    const ws = await connect(port);
    const n = 1000;
    const got: string[] = [];
    const all = new Promise<void>((ok) =>
      ws.on('message', (d, isBinary) => {
        if (!isBinary) got.push(d.toString());
        if (got.length === n) ok();
      }),
    );
    for (let i = 0; i < n; i++) ws.send(`go ${i}`);
    await all;
    expect(got).toEqual(Array.from({ length: n }, (_, i) => `go ${i}`));
    ws.removeAllListeners('message');
    const big = Buffer.alloc(1 << 20, 5);
    ws.send(big);
    const [echo, isBinary] = await once(ws, 'message');
    expect(isBinary).toBe(true);
    expect((echo as Buffer).equals(big)).toBe(true);
    ws.ping(Buffer.from('go ping'));
    const [pong] = await once(ws, 'pong');
    expect((pong as Buffer).toString()).toBe('go ping');
    ws.close(4003, 'go away');
    const [code] = await once(ws, 'close');
    expect(code).toBe(4003);
  });

  it('keeps a WebSocket open through a restart of its app (its handler holds the old process)', async () => {
    const ws = await connect(port);
    const restart = await w.control('GET', '/control/applications/wsgo/restart');
    expect(restart.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    ws.send('after the restart');
    expect((await once(ws, 'message'))[0].toString()).toBe('after the restart');
    ws.close(1000);
    expect((await once(ws, 'close'))[0]).toBe(1000);
  });

  it('still serves plain requests of the same app', async () => {
    const res = await http(port, '/plain');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('plain');
  });
});

describe('a graceful stop with WebSockets open', () => {
  it('closes them at once with 1001 instead of holding the stop for the grace', async () => {
    const dir = worldDir('warden-ws-stop-');
    const w = await startWardend([], dir);
    try {
      await w.control('PUT', '/config', { listeners: {}, applications: {} });
      const port = await putAppWithListener(w, 'ws', { type: 'node', working_directory: APP_DIR, script: 'server.js' });
      const ws = await connect(port);
      ws.send('hello');
      await once(ws, 'message');
      const closed = once(ws, 'close');
      const t0 = Date.now();
      await w.stop();
      const took = Date.now() - t0;
      const [code, reason] = await closed;
      expect([code, String(reason)]).toEqual([1001, 'Server is shutting down']);
      expect(took).toBeLessThan(4000); // it took 6.5 s: the routers waited their 5 s grace for the tunnel
    } finally {
      await w.stop();
      cleanup(dir);
    }
  }, 30_000);
});
