// An unmodified Node app served by several routers at once (PROTOCOL.md "Several routers"): its first channel at
// fds 3, 4 (WARDEN_CHANNEL), the control socket from "main" at fd 5 (WARDEN_CONTROL), more channels passed over it.
// The jest process plays both main (the control socket) and the routers (RouterChannels). Needs the built packages.
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { FdSocket, RouterChannel, type RequestHead, type RouterStream } from '@warden/shm-transport';
import { PRELOAD_PATH } from '../src';

jest.setTimeout(30000);

const FIXTURES = path.join(__dirname, 'fixtures');

interface App {
  child: ChildProcess;
  main: FdSocket;
  routers: RouterChannel[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
  /** Passes a new router's channel over the control socket, as main does; resolves once the app sent READY on it. */
  addRouter(): Promise<RouterChannel>;
}

const apps: App[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) {
    if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
    await app.exited;
    app.main.close();
    for (const r of app.routers) r.close();
  }
});

async function start(): Promise<App> {
  const first = RouterChannel.create();
  const [mainFd, appFd] = FdSocket.pair();
  const child = spawn(process.execPath, ['--require', PRELOAD_PATH, 'several-routers.js'], {
    cwd: FIXTURES,
    env: { PATH: process.env.PATH, ...first.env(), WARDEN_CONTROL: 'v1:fd=5' },
    stdio: ['ignore', 'pipe', 'pipe', first.fds[0], first.fds[1], appFd],
  });
  first.closeChildFds();
  fs.closeSync(appFd);
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const main = new FdSocket(
    mainFd,
    () => undefined,
    () => undefined,
  );
  const app: App = {
    child,
    main,
    routers: [first],
    exited,
    stderr: () => err,
    async addRouter() {
      const r = RouterChannel.create();
      main.send('{"op":"channel"}', r.fds);
      r.closeChildFds();
      app.routers.push(r);
      await ready(r);
      return r;
    },
  };
  apps.push(app);
  const ready = (r: RouterChannel) =>
    Promise.race([
      r.ready,
      exited.then(({ code, signal }) => {
        throw new Error(`app exited (${code ?? signal}) before READY: ${err}`);
      }),
    ]);
  await ready(first);
  return app;
}

function send(r: RouterChannel, target: string, over: Partial<RequestHead> = {}): RouterStream {
  const s = r.request({
    method: 'GET',
    target,
    httpVersion: '1.1',
    headers: ['Host', 'app.test'],
    remoteAddress: '203.0.113.9',
    remotePort: 50123,
    localAddress: '127.0.0.1',
    localPort: 8080,
    tls: false,
    contentLength: 0,
    ...over,
  });
  return s;
}

function body(s: RouterStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

const get = (r: RouterChannel, target: string, over?: Partial<RequestHead>) => body(send(r, target, over));
const json = async (r: RouterChannel, target: string, over?: Partial<RequestHead>) => JSON.parse(await get(r, target, over));

/** A request whose body stays open: the app answers once it ends. */
function hold(r: RouterChannel, over: Partial<RequestHead> = {}): RouterStream {
  const s = send(r, '/hold', { method: 'POST', contentLength: -1, ...over });
  s.writeBody(Buffer.from('abc'));
  return s;
}

describe('a Node app served by several routers (WARDEN_CONTROL)', () => {
  it('serves two channels at once, one socket per client connection with ids unique across them', async () => {
    const app = await start();
    const [a] = app.routers;
    const b = await app.addRouter();
    expect(a.connectionIds && b.connectionIds).toBe(true);
    // The same router-side connection id on both channels is two client connections; repeated, the same socket.
    const a7 = await json(a, '/sock', { connection: 7 });
    const b7 = await json(b, '/sock', { connection: 7 });
    expect(a7.socket).not.toBe(b7.socket);
    expect(await json(a, '/sock', { connection: 7 })).toEqual(a7);
    expect(await json(b, '/sock', { connection: 7 })).toEqual(b7);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => json(i % 2 ? a : b, '/stats')));
    expect(results.every((r) => r.aborted === 0)).toBe(true);
  });

  it('a channel closing mid-way aborts its requests and closes its connections; the other keeps serving', async () => {
    const app = await start();
    const [a] = app.routers;
    const b = await app.addRouter();
    const held = hold(b, { connection: 3 });
    const failed = body(held).then(
      () => 'answered',
      () => 'failed',
    );
    await json(b, '/sock', { connection: 4 }); // the held request reached the app before this one
    await json(a, '/sock', { connection: 3 });
    b.close(); // the router died
    expect(await failed).toBe('failed');
    // The app saw the abort and both of b's connections close; a's connection 3 is still the same socket.
    let stats = await json(a, '/stats');
    while (stats.socketsClosed < 2) stats = await json(a, '/stats');
    expect(stats).toEqual({ aborted: 1, socketsClosed: 2 });
    const again = await json(a, '/sock', { connection: 3 });
    expect(await json(a, '/sock', { connection: 3 })).toEqual(again);
    expect(app.child.exitCode).toBeNull();
  });

  it('with no channel left it waits, and serves a channel added later over the control socket', async () => {
    const app = await start();
    app.routers[0].close();
    const c = await app.addRouter();
    expect(await get(c, '/stats')).toBe('{"aborted":0,"socketsClosed":0}');
    expect(app.child.exitCode).toBeNull();
  });

  it('ends with status 1 when the control socket closes (main is gone), aborting what is in flight', async () => {
    const app = await start();
    const held = body(hold(app.routers[0])).then(
      () => 'answered',
      () => 'failed',
    );
    await get(app.routers[0], '/stats');
    app.main.close();
    expect(await app.exited).toEqual({ code: 1, signal: null });
    expect(await held).toBe('failed');
    expect(app.stderr()).toContain('control socket');
  });

  it('after SHUTDOWN on every channel, finishes in-flight requests and exits 0; one channel alone does not', async () => {
    const app = await start();
    const [a] = app.routers;
    const b = await app.addRouter();
    const heldA = hold(a);
    const heldB = hold(b);
    const answers = Promise.all([body(heldA), body(heldB)]);
    await Promise.all([get(a, '/stats'), get(b, '/stats')]);
    a.shutdown();
    // Only one router retired the process: the other's new requests are still served.
    expect(JSON.parse(await get(b, '/stats')).aborted).toBe(0);
    b.shutdown();
    heldA.endBody();
    heldB.endBody();
    expect(await answers).toEqual(['held 3', 'held 3']);
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });

  it('the control op shutdown ends it gracefully too', async () => {
    const app = await start();
    const held = hold(app.routers[0]);
    const answer = body(held);
    await get(app.routers[0], '/stats');
    app.main.send('{"op":"shutdown"}');
    held.endBody();
    expect(await answer).toBe('held 3');
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });

  it("outside wardend the warden CLI's WARDEN_CONTROL (an address) changes nothing: the app listens on a real port", async () => {
    const child = spawn(process.execPath, ['--require', PRELOAD_PATH, 'hello-cjs.js'], {
      cwd: FIXTURES,
      env: { PATH: process.env.PATH, PORT: '0', WARDEN_CONTROL: 'unix:/run/warden/control.sock' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', () => reject(new Error(`app exited: ${out} ${err}`)));
    });
    child.kill();
    expect(port).toBeGreaterThan(0);
  });

  it('removes WARDEN_CONTROL from the environment the app and its children see', async () => {
    const app = await start();
    expect(await json(app.routers[0], '/env')).toEqual({ channel: null, control: null });
  });
});
