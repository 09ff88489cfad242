// Unit's WebSocket behaviour for Node apps, case by case as Unit's own test suite checks it (the Autobahn-style cases
// of its Node WebSocket tests): apps in the shape of Unit's test apps, written for `unit-http/websocket` and started
// with `--require unit-http/loader`, served by wardend and spoken to on a raw socket, so that every frame the client
// sends and every frame it gets back is what is on the wire. What Unit answers itself (handshake errors, frame size,
// read timeout, keepalive) comes from wardend's router; the rest from the module.
import { cpSync, mkdirSync, symlinkSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, startWardend, worldDir, type Wardend } from './support/wardend';
import { OP, RawWs, acceptFor, closePayload, type WsFrame } from './support/ws-raw';

const APPS = join(ROOT, 'test/e2e/apps/unit-node');

describe("Unit's WebSocket cases for Node apps (unit-http/websocket) through wardend", () => {
  let dir: string;
  let w: Wardend;
  let mirror: number;
  let fragmentation: number;
  let esm: number;
  let indirect: number;

  beforeAll(async () => {
    dir = worldDir('warden-unit-ws-');
    const app = join(dir, 'app');
    cpSync(APPS, app, { recursive: true });
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(join(ROOT, 'packages/unit-http'), join(app, 'node_modules/unit-http'));
    w = await startWardend([], dir);
    [mirror, fragmentation, esm, indirect] = [await freePort(), await freePort(), await freePort(), await freePort()];
    // Unit's documented command lines: `--require unit-http/loader`, plus `--loader unit-http/loader.mjs` for ES modules.
    const unitNode = (script: string, es = false) => ({
      type: 'external',
      working_directory: app,
      executable: '/usr/bin/env',
      arguments: ['node', ...(es ? ['--no-warnings', '--loader', 'unit-http/loader.mjs'] : []), '--require', 'unit-http/loader', script],
    });
    const apps = { mirror, fragmentation, esm, indirect };
    const res = await w.control('PUT', '/config', {
      listeners: Object.fromEntries(Object.entries(apps).map(([name, port]) => [`127.0.0.1:${port}`, { pass: `applications/${name}` }])),
      applications: {
        mirror: unitNode('ws-mirror.js'),
        fragmentation: unitNode('ws-unit-fragmentation.js'),
        esm: unitNode('ws-unit-esm.mjs', true),
        indirect: unitNode('ws-unit-indirect.js', true),
      },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  /** Unit's tests start each case with keepalive pings off; some cases set other keys. */
  async function websocketSettings(extra: Record<string, number> = {}): Promise<void> {
    const res = await w.control('PUT', '/config/settings', { http: { websocket: { keepalive_interval: 0, ...extra } } });
    expect(res.status).toBe(200);
  }
  beforeEach(() => websocketSettings());

  async function open(port = mirror): Promise<RawWs> {
    const a = await RawWs.upgrade(port);
    expect(a.status).toBe(101);
    return a.ws;
  }

  function expectFrame(f: WsFrame, fin: boolean, opcode: number, payload: string | Buffer): void {
    expect([f.fin, f.opcode, Buffer.isBuffer(payload) ? f.data : f.data.toString()]).toEqual([fin, opcode, payload]);
  }

  async function expectClose(ws: RawWs, code = 1000): Promise<void> {
    const f = await ws.read();
    expect([f.fin, f.opcode, f.code]).toEqual([true, OP.CLOSE, code]);
  }

  /** Nothing pending, then the client's close (1000) answered with 1000. */
  async function closeConnection(ws: RawWs): Promise<void> {
    expect((await ws.recvall(100)).length).toBe(0);
    await ws.write(OP.CLOSE, closePayload());
    await expectClose(ws);
    ws.close();
  }

  const headers = (over: Record<string, string | number | undefined>) => {
    const h: Record<string, string | number | undefined> = {
      Host: 'localhost',
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Protocol': 'chat',
      'Sec-WebSocket-Version': 13,
      ...over,
    };
    return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string | number>;
  };

  it('handshake: 101 with Upgrade, Connection and the Sec-WebSocket-Accept of the key; header values in any case', async () => {
    const a = await RawWs.upgrade(mirror);
    a.ws.close();
    expect([a.status, a.headers.upgrade, a.headers.connection, a.headers['sec-websocket-accept']]).toEqual([101, 'websocket', 'Upgrade', acceptFor(a.key)]);
    const upper = await RawWs.upgrade(mirror, { headers: headers({ Upgrade: 'WEBSOCKET', Connection: 'UPGRADE' }) });
    upper.ws.close();
    expect(upper.status).toBe(101);
    const noProtocol = await RawWs.upgrade(mirror, { headers: headers({ 'Sec-WebSocket-Protocol': undefined }) });
    noProtocol.ws.close();
    expect([noProtocol.status, noProtocol.headers['sec-websocket-accept']]).toEqual([101, acceptFor('dGhlIHNhbXBsZSBub25jZQ==')]);
  });

  it('handshake errors: no version 426; POST, HTTP/1.0 or an invalid target 400', async () => {
    const answers: number[] = [];
    for (const o of [{ headers: headers({ 'Sec-WebSocket-Version': undefined }) }, { method: 'POST' }, { http10: true }, { path: '!' }]) {
      const a = await RawWs.upgrade(mirror, o);
      a.ws.close();
      answers.push(a.status);
    }
    expect(answers).toEqual([426, 400, 400, 400]);
  });

  it.each([
    ['an ES module importing "http" and "websocket"', () => esm],
    ['a CommonJS entry that imports that ES module', () => indirect],
  ])('the ES loader: %s mirrors messages', async (_what, port) => {
    const ws = await open(port());
    for (const m of ['blah', 'blah']) {
      await ws.write(OP.TEXT, m);
      expectFrame(await ws.read(), true, OP.TEXT, m);
    }
    ws.close();
  });

  it('mirrors text messages, and two clients each get their own', async () => {
    const ws = await open();
    for (const m of ['blah', 'blah']) {
      await ws.write(OP.TEXT, m);
      expectFrame(await ws.read(), true, OP.TEXT, m);
    }
    const other = await open();
    await ws.write(OP.TEXT, 'blah1');
    await other.write(OP.TEXT, 'blah2');
    expectFrame(await ws.read(), true, OP.TEXT, 'blah1');
    expectFrame(await other.read(), true, OP.TEXT, 'blah2');
    ws.close();
    other.close();
  });

  it('closes 1002 on an unmasked frame, and 1002 "Fragmented control frame" on a ping without FIN', async () => {
    const ws = await open();
    await ws.write(OP.TEXT, 'blah', { mask: false });
    await expectClose(ws, 1002);
    ws.close();
    const ping = await open();
    await ping.write(OP.PING, 'blah', { fin: false });
    const f = await ping.read();
    expect({ ...f, data: undefined }).toEqual({
      fin: true,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: OP.CLOSE,
      mask: false,
      data: undefined,
      code: 1002,
      reason: 'Fragmented control frame',
    });
    ping.close();
  });

  it('the default fragmentation threshold (16 KiB) sends a 30,000-byte message back in two frames', async () => {
    const ws = await open(fragmentation);
    const message = '0123456789'.repeat(3000);
    await ws.write(OP.TEXT, message);
    const first = await ws.read();
    const second = await ws.read();
    expect([first.fin, first.opcode, second.fin, second.opcode]).toEqual([false, OP.TEXT, true, OP.CONT]);
    expect(first.data.toString() + second.data.toString()).toBe(message);
    ws.close();
  });

  it('1.1.1-1.2.8: text and binary of 0 to 65,536 bytes, also written 997 bytes at a time', async () => {
    const ws = await open();
    for (const [opcode, byte] of [
      [OP.TEXT, '*'],
      [OP.BINARY, '\xfe'],
    ] as const) {
      for (const [length, chopsize] of [[0], [125], [126], [127], [128], [65535], [65536], [65536, 997]]) {
        const payload = Buffer.alloc(length, byte, 'latin1');
        await ws.write(opcode, payload, { chopsize });
        expectFrame(await ws.read(), true, opcode, payload);
      }
    }
    await closeConnection(ws);
  });

  it('2.1-2.11: pings answered with their payload (in order, also in pieces), pongs ignored, a 126-byte ping 1002', async () => {
    const ws = await open();
    for (const [payload, chopsize] of [
      [''],
      ['Hello, world!'],
      [Buffer.from([0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff])],
      [Buffer.alloc(125, 0xfe)],
      [Buffer.alloc(125, 0xfe), 1],
    ] as const) {
      await ws.write(OP.PING, payload, { chopsize: chopsize as number | undefined });
      expectFrame(await ws.read(), true, OP.PONG, payload);
    }
    await ws.write(OP.PONG, '');
    await ws.write(OP.PONG, 'unsolicited pong payload');
    expect((await ws.recvall(100)).length).toBe(0);
    await ws.write(OP.PONG, 'unsolicited pong payload');
    await ws.write(OP.PING, 'ping payload');
    expectFrame(await ws.read(), true, OP.PONG, 'ping payload');
    for (const chopsize of [undefined, 1]) {
      for (let i = 0; i < 10; i++) await ws.write(OP.PING, `payload-${i}`, { chopsize });
      for (let i = 0; i < 10; i++) expectFrame(await ws.read(), true, OP.PONG, `payload-${i}`);
    }
    await closeConnection(ws);

    const big = await open();
    await big.write(OP.PING, Buffer.alloc(126, 0xfe));
    await expectClose(big, 1002);
    big.close();
  });

  it('4.1.1-4.2.5: reserved opcodes close 1002, also after a message and before a ping (which is not answered)', async () => {
    for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      const ws = await open();
      const after = opcode === 0x5 || opcode === 0x6 || opcode === 0x7 || opcode >= 0xd;
      const chopsize = opcode === 0x7 || opcode === 0xf ? 1 : undefined;
      if (after) {
        await ws.write(OP.TEXT, 'Hello, world!', { chopsize });
        expectFrame(await ws.read(), true, OP.TEXT, 'Hello, world!');
      }
      await ws.write(opcode, 'reserved opcode payload', { chopsize });
      if (after) await ws.write(OP.PING, '');
      await expectClose(ws, 1002);
      ws.close();
    }
  });

  it('5.1-5.20: fragmented messages, control frames between fragments, and the fragmentation errors', async () => {
    for (const opcode of [OP.PING, OP.PONG]) {
      const ws = await open();
      await ws.write(opcode, 'fragment1', { fin: false });
      await ws.write(OP.CONT, 'fragment2');
      await expectClose(ws, 1002);
      ws.close();
    }

    const ws = await open();
    await ws.write(OP.TEXT, 'fragment1', { fin: false });
    await ws.write(OP.CONT, 'fragment2');
    expectFrame(await ws.read(), true, OP.TEXT, 'fragment1fragment2');
    await ws.write(OP.TEXT, 'fragment1', { fin: false });
    expect((await ws.recvall(100)).length).toBe(0);
    await ws.write(OP.CONT, 'fragment2');
    expectFrame(await ws.read(), true, OP.TEXT, 'fragment1fragment2');
    await ws.write(OP.TEXT, 'fragment1', { fin: false, chopsize: 1 });
    await ws.write(OP.CONT, 'fragment2', { chopsize: 1 });
    expectFrame(await ws.read(), true, OP.TEXT, 'fragment1fragment2');
    for (const chopsize of [undefined, 1]) {
      await ws.write(OP.TEXT, 'fragment1', { fin: false, chopsize });
      await ws.write(OP.PING, 'ping payload', { chopsize });
      await ws.write(OP.CONT, 'fragment2', { chopsize });
      expectFrame(await ws.read(), true, OP.PONG, 'ping payload');
      expectFrame(await ws.read(), true, OP.TEXT, 'fragment1fragment2');
    }
    await ws.write(OP.TEXT, 'fragment1', { fin: false });
    await ws.write(OP.CONT, 'fragment2', { fin: false });
    await ws.write(OP.PING, 'pongme 1!');
    expectFrame(await ws.read(), true, OP.PONG, 'pongme 1!');
    await ws.write(OP.CONT, 'fragment3', { fin: false });
    await ws.write(OP.CONT, 'fragment4', { fin: false });
    await ws.write(OP.PING, 'pongme 2!');
    expectFrame(await ws.read(), true, OP.PONG, 'pongme 2!');
    expect((await ws.recvall(100)).length).toBe(0);
    await ws.write(OP.CONT, 'fragment5');
    expectFrame(await ws.read(), true, OP.TEXT, 'fragment1fragment2fragment3fragment4fragment5');
    await closeConnection(ws);

    const errors: Array<Array<[number, string, boolean]>> = [
      [
        [OP.CONT, 'non-continuation payload', true],
        [OP.TEXT, 'Hello, world!', true],
      ],
      [
        [OP.CONT, 'non-continuation payload', false],
        [OP.TEXT, 'Hello, world!', true],
      ],
      [
        [OP.TEXT, 'fragment1', false],
        [OP.CONT, 'fragment2', true],
        [OP.CONT, 'fragment3', false],
        [OP.TEXT, 'fragment4', true],
      ],
      [
        [OP.CONT, 'fragment1', false],
        [OP.TEXT, 'fragment2', false],
        [OP.CONT, 'fragment3', true],
      ],
      [
        [OP.TEXT, 'fragment1', false],
        [OP.TEXT, 'fragment2', true],
      ],
    ];
    for (const frames of errors) {
      const e = await open();
      for (const [opcode, payload, fin] of frames) await e.write(opcode, payload, { fin });
      await expectClose(e, 1002);
      e.close();
    }
  });

  it('6.1.1-6.2.4: empty fragments, and UTF-8 text split anywhere across fragments', async () => {
    const ws = await open();
    await ws.write(OP.TEXT, '');
    expectFrame(await ws.read(), true, OP.TEXT, '');
    for (const middle of ['', 'middle frame payload']) {
      await ws.write(OP.TEXT, '', { fin: false });
      await ws.write(OP.CONT, middle, { fin: false });
      await ws.write(OP.CONT, '');
      expectFrame(await ws.read(), true, OP.TEXT, middle);
    }
    for (const text of ['Hello-µ@ßöäüàá-UTF-8!!', 'κόσμε']) {
      const bytes = Buffer.from(text);
      for (let i = 0; i < bytes.length; i++) await ws.write(i === 0 ? OP.TEXT : OP.CONT, bytes.subarray(i, i + 1), { fin: i === bytes.length - 1 });
      expectFrame(await ws.read(), true, OP.TEXT, text);
    }
    await closeConnection(ws);
  });

  it('7.1.1-7.1.6: after the close handshake nothing more is answered', async () => {
    const twice = await open();
    await twice.write(OP.CLOSE, closePayload());
    await twice.write(OP.CLOSE, closePayload());
    await expectClose(twice);
    twice.close();
    for (const [opcode, payload, before] of [
      [OP.PING, '', false],
      [OP.TEXT, 'Hello World!', false],
      [OP.CONT, 'fragment2', true],
    ] as const) {
      const ws = await open();
      if (before) await ws.write(OP.TEXT, 'fragment1', { fin: false });
      await ws.write(OP.CLOSE, closePayload());
      await expectClose(ws);
      await ws.write(opcode, payload);
      expect((await ws.recvall(100)).length).toBe(0);
      ws.close();
    }
    const busy = await open();
    await busy.write(OP.TEXT, 'BAsd7&jh23'.repeat(26 * 1024));
    await busy.write(OP.TEXT, 'Hello World!');
    await busy.write(OP.CLOSE, closePayload());
    await busy.recvall(1000);
    await busy.write(OP.PING, '');
    expect((await busy.recvall(100)).length).toBe(0);
    busy.close();
  });

  it('7.3.1-7.13.2: close payloads: valid codes and reasons answered 1000, the rest 1002', async () => {
    const cases: Array<[Buffer, number]> = [
      [Buffer.alloc(0), 1000],
      [Buffer.from('a'), 1002],
      [closePayload(), 1000],
      [closePayload(1000, 'Hello World!'), 1000],
      [closePayload(1000, '*'.repeat(123)), 1000],
      [closePayload(1000, '*'.repeat(124)), 1002],
      ...[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].map((c): [Buffer, number] => [closePayload(c), 1000]),
      ...[0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000].map((c): [Buffer, number] => [closePayload(c), 1002]),
      [Buffer.from([0, 1, 0, 0]), 1002],
    ];
    const got: number[] = [];
    for (const [payload] of cases) {
      const ws = await open();
      await ws.write(OP.CLOSE, payload);
      const f = await ws.read();
      got.push(f.opcode === OP.CLOSE ? (f.code ?? -1) : -f.opcode);
      ws.close();
    }
    expect(got).toEqual(cases.map(([, code]) => code));
  });

  it('10.1.1: a 65,536-byte text message in fragments of 1,300 comes back as one frame', async () => {
    const ws = await open();
    const payload = Buffer.alloc(65536, '*');
    for (let i = 0; i < payload.length; i += 1300)
      await ws.write(i === 0 ? OP.TEXT : OP.CONT, payload.subarray(i, i + 1300), { fin: i + 1300 >= payload.length });
    expectFrame(await ws.read(), true, OP.TEXT, payload.toString());
    await closeConnection(ws);
  });

  it('settings.http.websocket.max_frame_size: a 100-byte frame passes, a 101-byte one closes 1009', async () => {
    await websocketSettings({ max_frame_size: 100 });
    const ws = await open();
    await ws.write(OP.TEXT, '*'.repeat(94));
    expectFrame(await ws.read(), true, OP.TEXT, '*'.repeat(94));
    await ws.write(OP.TEXT, '*'.repeat(95));
    await expectClose(ws, 1009);
    ws.close();
  });

  it('settings.http.websocket.read_timeout: a frame left half-sent closes 1001', async () => {
    await websocketSettings({ read_timeout: 1 });
    const ws = await open();
    await ws.writeRaw(Buffer.from([0x81, 0x84]));
    await expectClose(ws, 1001);
    ws.close();
  });

  it('settings.http.websocket.keepalive_interval: a quiet client is sent an empty ping', async () => {
    await websocketSettings({ keepalive_interval: 1 });
    const ws = await open();
    await ws.writeRaw(Buffer.from([0x81, 0x84]));
    expectFrame(await ws.read(), true, OP.PING, '');
    ws.close();
  });
});
