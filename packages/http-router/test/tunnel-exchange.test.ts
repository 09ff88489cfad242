import type { IncomingMessage, ServerResponse } from 'http';
import { connect, createServer, type Server, type Socket } from 'net';
import type { LeanHandler } from '../src/internal/ports';
import { TunnelExchange } from '../src/internal/tunnel-exchange';

/**
 * A tunnel (a WebSocket after its 101) carries the app's bytes to the client. Small pieces the app sent in one turn
 * go out in one writev when the turn ends, not one write syscall each: through wardend a WebSocket echo of 64 B
 * messages ran at 50-65k messages/s with the router busy writing (one write per message), 105-112k after.
 */
describe('tunnel writes to the client', () => {
  let server: Server;
  let client: Socket;
  let sock: Socket;
  let received: Buffer[];

  beforeEach(async () => {
    received = [];
    const accepted = new Promise<Socket>((ok) => {
      server = createServer((s) => ok(s));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    client = connect((server.address() as { port: number }).port, '127.0.0.1');
    client.on('data', (d) => received.push(d));
    sock = await accepted;
  });
  afterEach(async () => {
    client.destroy();
    sock.destroy();
    await new Promise((ok) => server.close(ok));
  });

  /** An exchange whose tunnel is open (its 101 written), with counters of the socket's write calls to the kernel. */
  function openTunnel(): { ex: TunnelExchange; calls: { single: number; vector: number } } {
    const req = { method: 'GET', url: '/', httpVersion: '1.1', rawHeaders: [], headers: {}, socket: sock } as unknown as IncomingMessage;
    const res = { statusCode: 200 } as unknown as ServerResponse;
    const info = { remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2, scheme: 'http' as const };
    const ex = new TunnelExchange(req, res, info, { socket: sock, head: Buffer.alloc(0), websocket: null });
    ex.startTunnel();
    const handler: LeanHandler = { onBody: () => true, onBodyEnd: () => undefined, onWritable: () => undefined, onAbort: () => undefined };
    ex.attach(handler);
    expect(ex.respond(101, ['Upgrade', 'x-test', 'Connection', 'Upgrade'])).toBe(true);
    const calls = { single: 0, vector: 0 };
    const handle = (sock as unknown as { _handle: Record<string, (...a: unknown[]) => unknown> })._handle;
    for (const name of ['writeBuffer', 'writeLatin1String', 'writeUtf8String']) {
      const orig = handle[name]!;
      handle[name] = (...a: unknown[]) => (calls.single++, orig.apply(handle, a));
    }
    const writev = handle.writev!;
    handle.writev = (...a: unknown[]) => (calls.vector++, writev.apply(handle, a));
    return { ex, calls };
  }

  const turn = () => new Promise((r) => setImmediate(r));
  const text = () => Buffer.concat(received).toString('latin1');

  it('sends the small pieces of one turn in one writev, in order', async () => {
    const { ex, calls } = openTunnel();
    for (let i = 0; i < 10; i++) expect(ex.write(Buffer.from(`<${i}>`), false)).toBe(true);
    expect(calls).toEqual({ single: 0, vector: 0 });
    await turn();
    expect(calls).toEqual({ single: 0, vector: 1 });
    // The next turn's pieces: one more writev.
    ex.write(Buffer.from('<a>'), false);
    ex.write(Buffer.from('<b>'), false);
    await turn();
    expect(calls).toEqual({ single: 0, vector: 2 });
    while (!text().endsWith('<b>')) await turn();
    expect(text()).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\nUpgrade: x-test\r\nConnection: Upgrade\r\n\r\n<0><1><2><3><4><5><6><7><8><9><a><b>$/);
  });

  it('writes a large piece at once, and the last piece ends the connection after what came before', async () => {
    const { ex, calls } = openTunnel();
    const big = Buffer.alloc(sock.writableHighWaterMark, 0x62);
    ex.write(big, false);
    expect(calls.single).toBe(1); // not held for the end of the turn
    ex.write(Buffer.from('<x>'), false);
    ex.write(Buffer.from('<end>'), true);
    await new Promise((r) => client.once('end', r));
    expect(text().endsWith(`${'b'.repeat(big.length)}<x><end>`)).toBe(true);
  });
});
