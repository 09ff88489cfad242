// The Go app end (warden.ListenAndServe in packages/app-types/go/examples/hello) served by several routers at once,
// across processes (PROTOCOL.md "Several routers"): its first channel at fds 3, 4, the control socket at fd 5, more
// channels passed over it with FdSocket — the jest process plays wardend's main and its routers.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FdSocket, RouterChannel } from '../src';
import { buildGoHello, collect, exited, findGo, head } from './helpers';

const go = findGo();
const describeGo = go ? describe : describe.skip;

describeGo('the Go app served by several routers (WARDEN_CONTROL)', () => {
  let dir: string;
  let bin: string;
  const cleanup: (() => void)[] = [];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-go-routers-'));
    bin = buildGoHello(go!, dir);
  }, 120000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  /** Starts the app with one router's channel and the control socket; returns main's end and a way to add routers. */
  async function start(): Promise<{ child: ChildProcess; main: FdSocket; first: RouterChannel; add: () => Promise<RouterChannel> }> {
    const first = RouterChannel.create();
    const [mainFd, appFd] = FdSocket.pair();
    const child = spawn(bin, [], {
      stdio: ['ignore', 'pipe', 'pipe', first.fds[0], first.fds[1], appFd],
      env: { ...process.env, ...first.env(), WARDEN_CONTROL: 'v1:fd=5' },
    });
    first.closeChildFds();
    fs.closeSync(appFd);
    child.stdout!.resume();
    child.stderr!.resume();
    const main = new FdSocket(
      mainFd,
      () => undefined,
      () => undefined,
    );
    const routers = [first];
    cleanup.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      main.close();
      routers.forEach((r) => r.close());
    });
    await first.ready;
    const add = async () => {
      const r = RouterChannel.create();
      main.send('{"op":"channel"}', r.fds);
      r.closeChildFds();
      routers.push(r);
      await r.ready;
      return r;
    };
    return { child, main, first, add };
  }

  const hello = async (r: RouterChannel) => (await collect(r.request(head({ target: '/' })))).body.toString();

  it('serves two routers, keeps serving when one dies mid-request, takes a restarted one, exits 0 after SHUTDOWN on all', async () => {
    const { child, first, add } = await start();
    const second = await add();
    expect(await hello(first)).toBe('Hello, 127.0.0.1:40000!\n');
    expect(await hello(second)).toBe('Hello, 127.0.0.1:40000!\n');
    // A POST /echo whose body stays open is in its handler when the second router dies.
    const held = second.request(head({ method: 'POST', target: '/echo', contentLength: -1 }));
    const heldResult = collect(held).then(
      () => 'answered',
      () => 'failed',
    );
    held.writeBody(Buffer.from('partial'));
    second.close();
    expect(await heldResult).toBe('failed');
    expect(await hello(first)).toBe('Hello, 127.0.0.1:40000!\n');
    const third = await add(); // the restarted router
    expect(await hello(third)).toBe('Hello, 127.0.0.1:40000!\n');
    // SHUTDOWN on one channel of two: still serving on the other.
    first.shutdown();
    expect(await hello(third)).toBe('Hello, 127.0.0.1:40000!\n');
    third.shutdown();
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  }, 30000);

  it('ends with an error (exit 1) when the control socket closes: main is gone', async () => {
    const { child, main, first } = await start();
    expect(await hello(first)).toBe('Hello, 127.0.0.1:40000!\n');
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    main.close();
    expect(await exited(child)).toEqual({ code: 1, signal: null });
    expect(stderr).toContain('wardend closed the control socket');
  }, 30000);
});
