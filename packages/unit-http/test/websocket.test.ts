import { once } from 'events';
import * as http from 'http';
import * as net from 'net';
import type { AddressInfo } from 'net';
import WebSocket from 'ws';
import websocket = require('../src/websocket');
import { ByteQueue } from '../src/websocket/byte-queue';
import type { WebSocketServerConfig } from '../src/websocket/config';
import type { WebSocketConnection, WebSocketMessage } from '../src/websocket/connection';
import { acceptKey, type WebSocketRequest } from '../src/websocket/request';
import type { WebSocketRouterRequest } from '../src/websocket/router-request';
import type { WebSocketServer } from '../src/websocket/server';

// ---------------------------------------------------------------------------------------------------------------
// Harness: a plain node:http server with the module mounted on it; `ws` as the client, raw sockets where ws cannot
// produce the bytes (unmasked frames, RSV bits, invalid UTF-8, split writes).

jest.setTimeout(15000);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Harness {
  port: number;
  wss: WebSocketServer;
  httpServer: http.Server;
}

async function start(config: Partial<WebSocketServerConfig> = {}, onRequest?: (request: WebSocketRequest) => void): Promise<Harness> {
  const httpServer = http.createServer((req, res) => res.end('plain http\n'));
  const sockets = new Set<net.Socket>();
  httpServer.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new websocket.server({ httpServer, ...config });
  if (onRequest) wss.on('request', onRequest);
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  cleanups.push(async () => {
    wss.shutDown();
    for (const s of sockets) s.destroy();
    await new Promise((ok) => httpServer.close(ok));
  });
  return { port: (httpServer.address() as AddressInfo).port, wss, httpServer };
}

/** Unit's test app (test/node/websockets/mirror): accept(null), send back what arrives. */
function mirror(request: WebSocketRequest): void {
  const connection = request.accept(null);
  connection.on('message', (message: WebSocketMessage) => {
    if (message.type === 'utf8') connection.send(message.utf8Data);
    else connection.send(message.binaryData);
  });
}

function track(ws: WebSocket): WebSocket {
  cleanups.push(() => ws.terminate());
  return ws;
}

/** Messages each client received and nobody took yet (a message may arrive with the 101, before 'open' resolves). */
const inboxes = new WeakMap<WebSocket, { data: Buffer; isBinary: boolean }[]>();

async function open(port: number, path = '/', protocols?: string | string[], options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = track(new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, { maxPayload: 64 << 20, ...options }));
  const inbox: { data: Buffer; isBinary: boolean }[] = [];
  inboxes.set(ws, inbox);
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    inbox.push({ data, isBinary });
    ws.emit('queued');
  });
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  return ws;
}

/** Opens a ws client that the server refuses: the status and headers it got. */
function refused(
  port: number,
  path = '/',
  protocols?: string | string[],
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  const ws = track(new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, { headers }));
  return new Promise((ok, fail) => {
    ws.on('unexpected-response', (req, res) => {
      ok({ status: res.statusCode ?? 0, headers: res.headers });
      req.destroy();
    });
    ws.on('open', () => fail(new Error('the server accepted')));
    ws.on('error', fail);
  });
}

async function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  const inbox = inboxes.get(ws)!;
  while (inbox.length === 0) await once(ws, 'queued');
  return inbox.shift()!;
}

async function clientClosed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  return { code, reason: reason.toString() };
}

/** The next connection the server accepts. */
async function nextConnection(wss: WebSocketServer): Promise<WebSocketConnection> {
  return ((await once(wss, 'connect')) as [WebSocketConnection])[0];
}

async function serverClosed(connection: WebSocketConnection): Promise<{ code: number; description: string | null }> {
  const [code, description] = (await once(connection, 'close')) as [number, string | null];
  return { code, description };
}

// --- Raw client ---------------------------------------------------------------------------------------------------

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A client frame, encoded here independently of the module: masked unless `masked: false`. */
function frame(opcode: number, payload: Buffer | string = '', o: { fin?: boolean; rsv?: number; masked?: boolean; length64?: boolean } = {}): Buffer {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const masked = o.masked ?? true;
  let header: Buffer;
  if (data.length < 126 && !o.length64) header = Buffer.from([0, data.length]);
  else if (data.length < 0x10000 && !o.length64) header = Buffer.from([0, 126, data.length >> 8, data.length & 0xff]);
  else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeUInt32BE(data.length, 6);
  }
  header[0] = ((o.fin ?? true) ? 0x80 : 0) | (o.rsv ?? 0) | opcode;
  if (!masked) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  return Buffer.concat([header, MASK, Buffer.from(data.map((b, i) => b ^ MASK[i % 4]))]);
}

const closePayload = (code: number, reason = ''): Buffer => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);

interface ServerFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** A raw TCP client: sends an opening handshake, then reads the response head and the server's frames. */
class RawClient {
  readonly socket: net.Socket;
  head = '';
  readonly frames: ServerFrame[] = [];
  ended = false;
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    cleanups.push(() => this.socket.destroy());
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
      this.wake();
    });
    this.socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.socket.on('error', () => undefined);
  }

  static handshake(path = '/', headers: Record<string, string> = {}): string {
    const all: Record<string, string> = {
      Host: 'localhost',
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': KEY,
      'Sec-WebSocket-Version': '13',
      ...headers,
    };
    return `GET ${path} HTTP/1.1\r\n${Object.entries(all)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
  }

  /** Connects, sends the handshake (and `after` in the same write), waits for the response head. */
  static async open(port: number, o: { path?: string; headers?: Record<string, string>; after?: Buffer } = {}): Promise<RawClient> {
    const client = new RawClient(port);
    await once(client.socket, 'connect');
    client.socket.write(Buffer.concat([Buffer.from(RawClient.handshake(o.path, o.headers), 'latin1'), o.after ?? Buffer.alloc(0)]));
    await client.until(() => client.head !== '' || client.ended);
    return client;
  }

  get status(): number {
    return Number(/^HTTP\/1\.1 (\d+)/.exec(this.head)?.[1] ?? 0);
  }

  send(data: Buffer): Promise<void> {
    return new Promise((ok, fail) => this.socket.write(data, (err) => (err ? fail(err) : ok())));
  }

  /** Waits for a frame of `opcode` (skipping others) and returns it. */
  async frame(opcode: number): Promise<ServerFrame> {
    let found: ServerFrame | undefined;
    await this.until(() => {
      const i = this.frames.findIndex((f) => f.opcode === opcode);
      if (i >= 0) found = this.frames.splice(0, i + 1)[i];
      return found !== undefined || this.ended;
    });
    if (!found) throw new Error(`the server ended the connection without a frame of opcode ${opcode}`);
    return found;
  }

  /** The server's close frame: its code and reason. */
  async closed(): Promise<{ code: number; reason: string }> {
    const f = await this.frame(8);
    return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : -1, reason: f.payload.subarray(2).toString() };
  }

  until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((ok) => {
      const check = (): void => (done() ? ok() : void this.waiters.push(check));
      this.waiters.push(check);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private parse(): void {
    if (this.head === '') {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.buffer.subarray(0, end + 4).toString('latin1');
      this.buffer = this.buffer.subarray(end + 4);
    }
    for (;;) {
      if (this.buffer.length < 2) return;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = this.buffer.readUInt32BE(6);
        offset = 10;
      }
      const masked = (this.buffer[1]! & 0x80) !== 0;
      if (masked) offset += 4;
      if (this.buffer.length < offset + length) return;
      this.frames.push({ fin: (this.buffer[0]! & 0x80) !== 0, opcode: this.buffer[0]! & 0x0f, masked, payload: this.buffer.subarray(offset, offset + length) });
      this.buffer = this.buffer.subarray(offset + length);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('unit-http/websocket module', () => {
  it('exports server, router, frame, request and connection with the close codes on connection', () => {
    expect(Object.keys(websocket).sort()).toEqual(['connection', 'frame', 'request', 'router', 'server']);
    expect(websocket.connection.CLOSE_REASON_NORMAL).toBe(1000);
    expect(websocket.connection.CLOSE_REASON_MESSAGE_TOO_BIG).toBe(1009);
    expect(websocket.connection.CLOSE_REASON_TLS_HANDSHAKE_FAILED).toBe(1015);
    expect(websocket.connection.CLOSE_DESCRIPTIONS[1006]).toBe('Abnormal closure, no further detail available');
  });

  it('computes Sec-WebSocket-Accept as RFC 6455 §1.3 does', () => {
    expect(acceptKey(KEY)).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('throws without an httpServer and applies WebSocket-Node defaults', () => {
    expect(() => new websocket.server({})).toThrow(/httpServer/);
    const wss = new websocket.server({ httpServer: new http.Server() });
    expect(wss.config).toMatchObject({
      maxReceivedFrameSize: 0x10000,
      maxReceivedMessageSize: 0x100000,
      fragmentOutgoingMessages: true,
      fragmentationThreshold: 0x4000,
      assembleFragments: true,
      autoAcceptConnections: false,
      closeTimeout: 5000,
      keepalive: false, // Unit's module has no keepalive: its router pings
      keepaliveInterval: 20000,
      keepaliveGracePeriod: 10000,
    });
    expect(wss.config.httpServer).toHaveLength(1);
  });
});

describe('WebSocketFrame', () => {
  it('serialises 7-bit, 16-bit and 64-bit lengths and parses them back, masked or not', () => {
    for (const size of [5, 300, 70000]) {
      for (const mask of [false, true]) {
        const out = new websocket.frame();
        out.fin = true;
        out.opcode = 2;
        out.mask = mask;
        out.binaryPayload = Buffer.alloc(size, 7);
        const bytes = out.toBuffer();
        expect(bytes.length).toBe(size + (size < 126 ? 2 : size < 0x10000 ? 4 : 10) + (mask ? 4 : 0));
        const queue = new ByteQueue();
        const parsed = new websocket.frame(undefined, undefined, { maxReceivedFrameSize: 0x100000 });
        // One byte at a time: the parser must wait for each part of the frame, and complete with the last byte.
        let completeAt = -1;
        for (let i = 0; i < bytes.length && completeAt < 0; i++) {
          queue.push(bytes.subarray(i, i + 1));
          if (parsed.addData(queue)) completeAt = i;
        }
        expect(completeAt).toBe(bytes.length - 1);
        expect([parsed.fin, parsed.opcode, parsed.mask, parsed.length, parsed.binaryPayload.equals(out.binaryPayload)]).toEqual([true, 2, mask, size, true]);
      }
    }
  });

  it('writes a masked frame with a zero key when toBuffer(true)', () => {
    const f = new websocket.frame();
    f.fin = true;
    f.opcode = 1;
    f.mask = true;
    f.binaryPayload = Buffer.from('abc');
    expect([...f.toBuffer(true)]).toEqual([0x81, 0x83, 0, 0, 0, 0, 0x61, 0x62, 0x63]);
  });

  it('carries a close frame status before its reason', () => {
    const f = new websocket.frame();
    f.fin = true;
    f.opcode = 8;
    f.closeStatus = 1001;
    f.binaryPayload = Buffer.from('gone');
    expect([...f.toBuffer()]).toEqual([0x88, 6, 0x03, 0xe9, ...Buffer.from('gone')]);
  });
});

describe('WebSocketServer over node:http (Unit test apps)', () => {
  it('echoes text and binary messages (request.accept(null), connection.send of utf8Data / binaryData)', async () => {
    const { port } = await start({}, mirror);
    const ws = await open(port, '/echo');
    ws.send('hello, ünïcode ✓');
    expect(await nextMessage(ws)).toEqual({ data: Buffer.from('hello, ünïcode ✓'), isBinary: false });
    ws.send(Buffer.from([0, 1, 2, 255]));
    expect(await nextMessage(ws)).toEqual({ data: Buffer.from([0, 1, 2, 255]), isBinary: true });
    ws.send('');
    expect(await nextMessage(ws)).toEqual({ data: Buffer.alloc(0), isBinary: false });
  });

  it("echoes a single 1 MiB frame with the default limits: as in Unit, a frame's size is the router's to limit", async () => {
    const { port } = await start({}, mirror);
    const ws = await open(port);
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    ws.send(big);
    const echoed = await nextMessage(ws);
    expect(echoed.isBinary).toBe(true);
    expect(echoed.data.equals(big)).toBe(true);
  });

  it('assembles a 2 MiB message sent in 64 KiB fragments when maxReceivedMessageSize allows it, and closes 1009 when not', async () => {
    const fragments = Array.from({ length: 32 }, (_, i) => Buffer.alloc(64 << 10, i));
    const sendFragmented = (ws: WebSocket): void => fragments.forEach((f, i) => ws.send(f, { fin: i === fragments.length - 1, binary: true }));

    const raised = await start({ maxReceivedMessageSize: 4 << 20 }, mirror);
    const ws = await open(raised.port);
    sendFragmented(ws);
    const echoed = await nextMessage(ws);
    expect(echoed.data.equals(Buffer.concat(fragments))).toBe(true);

    const limited = await start({}, mirror);
    const connected = nextConnection(limited.wss);
    const small = await open(limited.port);
    const closed = serverClosed(await connected);
    sendFragmented(small);
    expect(await clientClosed(small)).toEqual({ code: 1009, reason: 'Maximum message size exceeded.' });
    expect((await closed).code).toBe(1009);
  });

  it('fragments outgoing messages at fragmentationThreshold (and not when fragmentOutgoingMessages is false)', async () => {
    const { port } = await start({ fragmentationThreshold: 1000 }, (request) => request.accept().sendUTF('x'.repeat(2500)));
    const raw = await RawClient.open(port);
    expect(raw.status).toBe(101);
    await raw.until(() => raw.frames.length >= 3);
    expect(raw.frames.map((f) => [f.opcode, f.fin, f.payload.length, f.masked])).toEqual([
      [1, false, 1000, false],
      [0, false, 1000, false],
      [0, true, 500, false],
    ]);
    const whole = await start({ fragmentationThreshold: 1000, fragmentOutgoingMessages: false }, (request) => request.accept().sendUTF('y'.repeat(2500)));
    const raw2 = await RawClient.open(whole.port);
    const f = await raw2.frame(1);
    expect([f.fin, f.payload.length]).toEqual([true, 2500]);
    // ws reassembles the fragments into the one message.
    const ws = await open(port);
    expect((await nextMessage(ws)).data.toString()).toBe('x'.repeat(2500));
  });

  it('mirrors a fragmented text message with a ping between its fragments, with default limits (mirror_fragmentation)', async () => {
    const { port } = await start({}, mirror);
    const raw = await RawClient.open(port);
    await raw.send(frame(1, 'frag', { fin: false }));
    await raw.send(frame(9, 'in-between'));
    await raw.send(frame(0, 'ment', { fin: false }));
    await raw.send(frame(0, 'ed ✓'));
    expect((await raw.frame(10)).payload.toString()).toBe('in-between');
    expect((await raw.frame(1)).payload.toString()).toBe('fragmented ✓');
  });

  it('handles a frame split one byte per write, and several frames in one write', async () => {
    const h = await start({}, mirror);
    const connected = nextConnection(h.wss);
    const raw = await RawClient.open(h.port);
    let chunks = 0;
    (await connected).socket.on('data', () => chunks++);
    const bytes = frame(1, 'split into single bytes');
    for (let i = 0; i < bytes.length; i++) {
      await raw.send(bytes.subarray(i, i + 1));
      await new Promise((ok) => setImmediate(ok));
    }
    expect((await raw.frame(1)).payload.toString()).toBe('split into single bytes');
    expect(chunks).toBeGreaterThan(1);

    // 'three' uses the 64-bit length form for 5 bytes: legal, if unusual.
    await raw.send(Buffer.concat([frame(1, 'one'), frame(2, Buffer.from([2])), frame(1, 'three', { length64: true }), frame(8, closePayload(1000))]));
    expect((await raw.frame(1)).payload.toString()).toBe('one');
    expect([...(await raw.frame(2)).payload]).toEqual([2]);
    expect((await raw.frame(1)).payload.toString()).toBe('three');
    expect((await raw.closed()).code).toBe(1000);
  });

  it("takes the 'upgrade' head as the first bytes of the connection", async () => {
    const { port } = await start({}, mirror);
    const raw = await RawClient.open(port, { after: frame(1, 'sent with the handshake') });
    expect(raw.status).toBe(101);
    expect((await raw.frame(1)).payload.toString()).toBe('sent with the handshake');
  });
});

describe('WebSocketRequest', () => {
  it('reads the handshake: resource, host, origin, protocols, extensions, cookies, addresses', async () => {
    let seen: WebSocketRequest | undefined;
    const { port } = await start({}, (request) => {
      seen = request;
      request.accept('chat.v1', request.origin);
    });
    const ws = await open(port, '/chat/room?name=a%20b', ['Chat.V1', 'other'], {
      origin: 'http://example.test',
      headers: { Cookie: 'a=1; b="two%20words", c', 'X-Forwarded-For': '10.0.0.1, 10.0.0.2' },
    });
    expect(seen).toMatchObject({
      resource: '/chat/room?name=a%20b',
      host: `127.0.0.1:${port}`,
      origin: 'http://example.test',
      webSocketVersion: 13,
      requestedProtocols: ['chat.v1', 'other'],
      protocolFullCaseMap: { 'chat.v1': 'Chat.V1', other: 'other' },
      requestedExtensions: [{ name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: undefined }] }],
      cookies: [
        { name: 'a', value: '1' },
        { name: 'b', value: 'two words' },
        { name: 'c', value: null },
      ],
      remoteAddress: '10.0.0.1',
      remoteAddresses: ['10.0.0.1', '10.0.0.2', '127.0.0.1'],
    });
    expect(seen!.resourceURL.pathname).toBe('/chat/room');
    expect(seen!.resourceURL.query).toEqual({ name: 'a b' });
    // No extension is negotiated: ws talks without permessage-deflate.
    expect([ws.protocol, ws.extensions]).toEqual(['Chat.V1', '']);
  });

  it('ignores X-Forwarded-For with ignoreXForwardedFor', async () => {
    const h = await start({ ignoreXForwardedFor: true }, (request) => request.accept());
    const connected = nextConnection(h.wss);
    await open(h.port, '/', [], { headers: { 'X-Forwarded-For': '10.9.9.9' } });
    expect((await connected).remoteAddress).toBe('127.0.0.1');
  });

  it('accepts a requested subprotocol in the client spelling and refuses one the client did not ask for', async () => {
    const errors: string[] = [];
    const { port } = await start({}, (request) => {
      try {
        request.accept(request.resource === '/ok' ? 'chat.v1' : 'never-asked');
      } catch (err) {
        errors.push((err as Error).message);
      }
    });
    const ws = await open(port, '/ok', ['Chat.V1', 'other']);
    expect(ws.protocol).toBe('Chat.V1');
    expect((await refused(port, '/bad', ['chat.v1'])).status).toBe(500);
    expect(errors).toEqual(['Specified protocol was not requested by the client.']);
  });

  it('sends the cookies given to accept() as Set-Cookie and refuses an invalid one', async () => {
    const errors: string[] = [];
    const { port } = await start({}, (request) => {
      try {
        if (request.resource === '/ok') request.accept(null, null, [{ name: 'session', value: 'abc', path: '/', httponly: true, maxage: 60 }]);
        else request.accept(null, null, [{ name: 'bad name', value: 'x"y' }]);
      } catch (err) {
        errors.push((err as Error).message);
      }
    });
    const ws = track(new WebSocket(`ws://127.0.0.1:${port}/ok`));
    const [response] = (await once(ws, 'upgrade')) as [http.IncomingMessage];
    expect(response.headers['set-cookie']).toEqual(['session=abc;Path=/;Max-Age=60;HttpOnly']);
    expect((await refused(port, '/bad')).status).toBe(500);
    expect(errors).toEqual(['Illegal character in cookie value "x"y"']);
  });

  it('rejects with the status, a reason header without CR/LF and extra headers', async () => {
    const events: string[] = [];
    const { port } = await start({}, (request) => {
      request.on('requestRejected', () => events.push('rejected'));
      request.reject(401, 'no\r\nentry', { 'WWW-Authenticate': 'Basic' });
      expect(() => request.accept()).toThrow(/only be accepted or rejected one time/);
    });
    const answer = await refused(port);
    expect(answer.status).toBe(401);
    expect(answer.headers['x-websocket-reject-reason']).toBe('noentry');
    expect(answer.headers['www-authenticate']).toBe('Basic');
    expect(events).toEqual(['rejected']);
  });

  it('rejects with 403 by default', async () => {
    const { port } = await start({}, (request) => request.reject());
    expect((await refused(port)).status).toBe(403);
  });

  it('rejects with 404 when nobody listens for requests', async () => {
    const { port } = await start();
    const answer = await refused(port);
    expect([answer.status, answer.headers['x-websocket-reject-reason']]).toEqual([404, 'No handler is configured to accept the connection.']);
  });

  it('rejects an unsupported version with 426 and Sec-WebSocket-Version: 13, a handshake without a key with 400', async () => {
    const { port } = await start({}, mirror);
    const old = await RawClient.open(port, { headers: { 'Sec-WebSocket-Version': '7' } });
    expect(old.status).toBe(426);
    expect(old.head).toMatch(/\r\nSec-WebSocket-Version: 13\r\n/);
    const keyless = await RawClient.open(port, { headers: { 'Sec-WebSocket-Key': '' } });
    expect(keyless.status).toBe(400);
    expect(keyless.head).toMatch(/X-WebSocket-Reject-Reason: Client must provide a value for Sec-WebSocket-Key\./);
  });

  it('accepts version 8 with Sec-WebSocket-Origin', async () => {
    let origin: string | undefined;
    const { port } = await start({}, (request) => {
      origin = request.origin;
      request.accept(null, 'http://allowed.test');
    });
    const raw = await RawClient.open(port, { headers: { 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': 'http://v8.test' } });
    expect(raw.status).toBe(101);
    expect(origin).toBe('http://v8.test');
    expect(raw.head).toContain(`\r\nSec-WebSocket-Accept: ${acceptKey(KEY)}\r\n`);
    expect(raw.head).toContain('\r\nSec-WebSocket-Origin: http://allowed.test\r\n');
  });

  it('returns a closed connection (close 1006) when the client hung up before the accept', async () => {
    let pending: ((request: WebSocketRequest) => void) | undefined;
    const requested = new Promise<WebSocketRequest>((ok) => (pending = ok));
    const h = await start({}, (request) => pending!(request));
    const raw = await new Promise<RawClient>((ok) => {
      const client = new RawClient(h.port);
      client.socket.once('connect', () => {
        client.socket.write(RawClient.handshake());
        ok(client);
      });
    });
    const request = await requested;
    const ended = once(request.socket, 'end');
    raw.socket.end();
    await ended;
    const connection = request.accept();
    expect([connection.connected, connection.state]).toEqual([false, 'closed']);
    expect(await serverClosed(connection)).toEqual({ code: 1006, description: 'TCP connection lost before handshake completed.' });
    expect(h.wss.connections).toEqual([]);
  });
});

describe('WebSocketServer options and events', () => {
  it('accepts with the first requested protocol when autoAcceptConnections is on', async () => {
    const h = await start({ autoAcceptConnections: true });
    const connected = nextConnection(h.wss);
    const ws = await open(h.port, '/', ['first', 'second']);
    expect(ws.protocol).toBe('first');
    const connection = await connected;
    expect(connection.protocol).toBe('first');
    connection.on('message', (m: WebSocketMessage) => m.type === 'utf8' && connection.sendUTF(m.utf8Data.toUpperCase()));
    ws.send('auto');
    expect((await nextMessage(ws)).data.toString()).toBe('AUTO');
  });

  it("emits 'connect' and 'close', keeps connections current and broadcasts to every connection", async () => {
    const h = await start({}, (request) => request.accept());
    const closes: [number, string | null][] = [];
    h.wss.on('close', (_c: WebSocketConnection, code: number, description: string | null) => closes.push([code, description]));
    const first = nextConnection(h.wss);
    const a = await open(h.port);
    await first;
    const second = nextConnection(h.wss);
    const b = await open(h.port);
    await second;
    expect(h.wss.connections).toHaveLength(2);
    expect(h.wss.pendingRequests).toEqual([]);

    const got = Promise.all([nextMessage(a), nextMessage(b)]);
    h.wss.broadcast('to all');
    expect((await got).map((m) => [m.data.toString(), m.isBinary])).toEqual([
      ['to all', false],
      ['to all', false],
    ]);
    const gotBytes = Promise.all([nextMessage(a), nextMessage(b)]);
    h.wss.broadcast(Buffer.from([9]));
    expect((await gotBytes).map((m) => m.isBinary)).toEqual([true, true]);

    const closed = once(h.wss, 'close');
    a.close(1001, 'leaving');
    await closed;
    expect(closes).toEqual([[1001, 'leaving']]);
    expect(h.wss.connections).toHaveLength(1);
  });

  it('closeAllConnections closes open connections with 1000 and rejects pending requests with 503', async () => {
    const h = await start({}, (request) => {
      if (request.resource === '/accept') request.accept();
    });
    const connected = nextConnection(h.wss);
    const ws = await open(h.port, '/accept');
    await connected;
    const pending = refused(h.port, '/wait');
    await new Promise<void>((ok) => {
      const poll = (): void => (h.wss.pendingRequests.length > 0 ? ok() : void setImmediate(poll));
      poll();
    });
    const closed = clientClosed(ws);
    h.wss.closeAllConnections();
    expect((await closed).code).toBe(1000);
    expect((await pending).status).toBe(503);
  });

  it("emits every frame as 'frame' and no 'message' when assembleFragments is false", async () => {
    const h = await start({ assembleFragments: false }, (request) => request.accept());
    const connected = nextConnection(h.wss);
    const ws = await open(h.port);
    const connection = await connected;
    const frames: [number, boolean, string][] = [];
    const messages: unknown[] = [];
    connection.on('message', (m) => messages.push(m));
    const done = new Promise<void>((ok) =>
      connection.on('frame', (f: InstanceType<typeof websocket.frame>) => {
        frames.push([f.opcode, f.fin, f.binaryPayload.toString()]);
        if (f.fin) ok();
      }),
    );
    ws.send('ab', { fin: false });
    ws.send('cd', { fin: true });
    await done;
    expect(frames).toEqual([
      [1, false, 'ab'],
      [0, true, 'cd'],
    ]);
    expect(messages).toEqual([]);
  });
});

describe('WebSocketConnection close, ping and errors', () => {
  it("server close(1000, 'bye'): the client sees 1000 'bye' and the server emits 'close' 1000", async () => {
    const h = await start({}, (request) => request.accept());
    const connected = nextConnection(h.wss);
    const ws = await open(h.port);
    const connection = await connected;
    const serverSide = serverClosed(connection);
    connection.close(1000, 'bye');
    expect(connection.state).toBe('ending');
    // Nothing goes out after the close frame: the sender gets an error instead.
    const late = new Promise<Error | null | undefined>((ok) => connection.sendUTF('too late', ok));
    expect(await clientClosed(ws)).toEqual({ code: 1000, reason: 'bye' });
    expect((await late)?.message).toBe('The WebSocket connection is closed.');
    expect(inboxes.get(ws)).toEqual([]);
    expect(await serverSide).toEqual({ code: 1000, description: 'bye' });
    expect(connection.state).toBe('closed');
    expect(() => connection.close(999)).not.toThrow(); // already closed: nothing to do
  });

  it("client close 4000: the server emits 'close' 4000 with the reason and answers with 1000, as Unit's module does", async () => {
    const h = await start({}, (request) => request.accept());
    const connected = nextConnection(h.wss);
    const ws = await open(h.port);
    const connection = await connected;
    const serverSide = serverClosed(connection);
    ws.close(4000, 'see you');
    expect(await serverSide).toEqual({ code: 4000, description: 'see you' });
    expect((await clientClosed(ws)).code).toBe(1000);
    expect(connection.closeEventEmitted).toBe(true);
  });

  it('refuses an invalid close code given to close()', async () => {
    const h = await start({}, (request) => request.accept());
    const connected = nextConnection(h.wss);
    await open(h.port);
    const connection = await connected;
    expect(() => connection.close(1005)).toThrow('Close code 1005 is not valid.');
    expect(() => connection.close(2999)).toThrow('Close code 2999 is not valid.');
    expect([connection.connected, connection.state]).toEqual([true, 'open']);
  });

  it("answers a client ping with a pong, emits 'ping' (which may cancel the pong) and 'pong'", async () => {
    const h = await start({}, (request) => request.accept());
    const connected = nextConnection(h.wss);
    const ws = await open(h.port);
    const connection = await connected;
    const pings: string[] = [];
    connection.on('ping', (cancel: () => void, data: Buffer) => {
      pings.push(data.toString());
      if (data.toString() === 'cancel') cancel();
    });
    connection.on('message', (m: WebSocketMessage) => m.type === 'utf8' && connection.sendUTF(m.utf8Data));
    const pongs: string[] = [];
    ws.on('pong', (d: Buffer) => pongs.push(d.toString()));
    ws.ping('hi');
    ws.ping('cancel');
    ws.send('after the pings');
    await nextMessage(ws); // the echo comes after any pong the server sent for the pings
    expect(pings).toEqual(['hi', 'cancel']);
    expect(pongs).toEqual(['hi']);

    const pong = once(connection, 'pong');
    connection.ping('from server');
    expect(((await pong) as [Buffer])[0].toString()).toBe('from server');
  });

  it.each([
    ['an unmasked frame', frame(1, 'plain', { masked: false }), 1002, 1002],
    ['an RSV1 bit without an extension', frame(1, 'x', { rsv: 0x40 }), 1002, 1002],
    ['an unknown opcode', frame(3, 'x'), 1002, 1002],
    ['a control frame over 125 bytes', frame(9, Buffer.alloc(126)), 1002, 1002],
    ['a fragmented control frame', frame(9, 'x', { fin: false }), 1002, 1002],
    ['a continuation without a start', frame(0, 'x'), 1002, 1002],
    ['a new message inside a fragmented one', Buffer.concat([frame(1, 'a', { fin: false }), frame(1, 'b')]), 1002, 1002],
    ['invalid UTF-8 in a text message', frame(1, Buffer.from([0x68, 0xc3, 0x28])), 1007, 1007],
    ['invalid UTF-8 across text fragments', Buffer.concat([frame(1, Buffer.from([0xe2, 0x82]), { fin: false }), frame(0, Buffer.from([0x41]))]), 1007, 1007],
    ['a close frame with a 1-byte payload', frame(8, Buffer.from([3])), 1002, 1005],
    ['a close frame with code 999', frame(8, closePayload(999)), 1002, 999],
    ['a close frame with code 1005 (never sent on the wire)', frame(8, closePayload(1005)), 1002, 1005],
    ['a close frame with an invalid UTF-8 reason', frame(8, Buffer.concat([closePayload(1000), Buffer.from([0xff])])), 1007, 1007],
    ['a 64-bit length with its most significant bit set', frameHeader64(2 ** 63), 1002, 1002],
  ])('answers %s with a close frame of the right code', async (_what, bytes, code, reported) => {
    const h = await start({}, mirror);
    const connected = nextConnection(h.wss);
    const raw = await RawClient.open(h.port);
    const connection = await connected;
    const serverSide = serverClosed(connection);
    await raw.send(bytes);
    expect((await raw.closed()).code).toBe(code);
    // The server's 'close' reports the code of a close frame it answered (1005: none), else the code it sent.
    expect((await serverSide).code).toBe(reported);
    await raw.until(() => raw.ended);
  });

  it("emits 'close' 1006 when the client disappears without a close frame", async () => {
    const h = await start({}, (request) => request.accept());
    const connected = nextConnection(h.wss);
    const ws = await open(h.port);
    const connection = await connected;
    const serverSide = serverClosed(connection);
    ws.terminate();
    expect(await serverSide).toEqual({ code: 1006, description: 'Connection dropped by remote peer.' });
    expect(h.wss.connections).toEqual([]);
  });

  it("sends no ping of its own by default, as Unit's module: a silent peer stays connected", async () => {
    const h = await start({ keepaliveInterval: 50, keepaliveGracePeriod: 100 }, (request) => request.accept());
    const connected = nextConnection(h.wss);
    const raw = await RawClient.open(h.port);
    const connection = await connected;
    await new Promise((r) => setTimeout(r, 400));
    expect([connection.connected, connection.state, raw.frames.length, raw.ended]).toEqual([true, 'open', 0, false]);
  });

  it('with keepalive: true, pings after keepaliveInterval and drops (1006) a peer that does not answer within the grace period', async () => {
    const h = await start({ keepalive: true, keepaliveInterval: 50, keepaliveGracePeriod: 100 }, (request) => request.accept());
    const connected = nextConnection(h.wss);
    const raw = await RawClient.open(h.port);
    const connection = await connected;
    const serverSide = serverClosed(connection);
    await raw.frame(9);
    expect(await serverSide).toEqual({ code: 1006, description: 'Peer not responding.' });

    // ws answers every ping: the connection outlives several keepalive rounds.
    const connected2 = nextConnection(h.wss);
    const ws = await open(h.port);
    const alive = await connected2;
    for (let i = 0; i < 4; i++) await once(ws, 'ping');
    expect([alive.connected, alive.state]).toEqual([true, 'open']);
  });

  it('send() sends a Buffer as binary, other values by toString() as text, and throws on null', async () => {
    const h = await start({}, (request) => request.accept());
    const connected = nextConnection(h.wss);
    const ws = await open(h.port);
    const connection = await connected;
    const sent = new Promise<void>((ok, fail) => connection.send(42, (err) => (err ? fail(err) : ok())));
    expect(await nextMessage(ws)).toEqual({ data: Buffer.from('42'), isBinary: false });
    await sent;
    expect(() => connection.send(null)).toThrow(/Buffer or implement toString/);
    expect(() => connection.sendBytes('x' as unknown as Buffer)).toThrow(/Buffer/);
  });
});

describe('WebSocketRouter', () => {
  it('routes by path and protocol and rejects anything else with 404', async () => {
    const h = await start();
    const router = new websocket.router({ server: h.wss });
    const routed: string[] = [];
    router.mount('/a', null, (request: WebSocketRouterRequest) => {
      routed.push(`a:${request.protocol}:${request.resource}`);
      const connection = request.accept(request.origin);
      connection.sendUTF('from a');
    });
    router.mount(/^\/b\/\d+$/, 'Echo', (request: WebSocketRouterRequest) => {
      routed.push(`b:${request.protocol}:${request.resourceURL.pathname}`);
      const accepted = once(request, 'requestAccepted');
      request.accept().sendUTF('from b');
      void accepted.then(() => routed.push('b accepted'));
    });
    expect(() => router.mount('/a', '____no_protocol____', () => undefined)).toThrow(/one handler per path\/protocol/);

    const a = await open(h.port, '/a?x=1');
    expect((await nextMessage(a)).data.toString()).toBe('from a');
    const b = await open(h.port, '/b/42', ['echo']);
    expect(b.protocol).toBe('echo');
    expect((await nextMessage(b)).data.toString()).toBe('from b');
    expect(routed).toEqual(['a:null:/a?x=1', 'b:echo:/b/42', 'b accepted']);

    expect((await refused(h.port, '/c')).status).toBe(404);
    expect((await refused(h.port, '/b/42')).status).toBe(404); // no protocol asked: /b needs "echo"
    expect((await refused(h.port, '/a', ['echo'])).headers['x-websocket-reject-reason']).toBe('No handler is available for the given request.');

    router.unmount('/a', null);
    expect((await refused(h.port, '/a')).status).toBe(404);
    router.mount('*', '*', (request: WebSocketRouterRequest) => request.reject(409, 'catch-all'));
    expect((await refused(h.port, '/anything', ['whatever'])).status).toBe(409);
    router.detachServer();
    expect(h.wss.listenerCount('request')).toBe(0);
  });
});

/** A masked binary frame header announcing `length` bytes with a 64-bit length (no payload follows). */
function frameHeader64(length: number): Buffer {
  const out = Buffer.alloc(14);
  out[0] = 0x82;
  out[1] = 0x80 | 127;
  out.writeUInt32BE(Math.floor(length / 0x100000000), 2);
  out.writeUInt32BE(length >>> 0, 6);
  MASK.copy(out, 10);
  return out;
}
