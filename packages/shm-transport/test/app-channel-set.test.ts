import { once } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { classifyControl } from '../src/app-channel-set';
import { AppChannel, AppChannelSet, AppRequest, closeFd, FdSocket, RouterChannel, ShmLogger } from '../src';
import { collect, head } from './helpers';

/** A set with a control socket; the test holds main's end. */
interface Fixture {
  set: AppChannelSet;
  main: FdSocket;
  logged: string[];
  routers: RouterChannel[];
  /** The first channel's app end. */
  first: AppChannel | null;
  /** Sends a router's channel over the control socket (as main does) and closes the router's copies. */
  give(router?: RouterChannel): RouterChannel;
}

function fixture(opts: { first?: boolean } = {}): Fixture {
  const [mainFd, appFd] = FdSocket.pair();
  const logged: string[] = [];
  const logger: ShmLogger = { error: (_o, msg) => logged.push(msg ?? ''), debug: () => undefined };
  const routers: RouterChannel[] = [];
  let first: AppChannel | null = null;
  if (opts.first !== false) {
    const r = RouterChannel.create();
    first = AppChannel.open(r.fds[0], r.fds[1]);
    r._forgetChildFds();
    routers.push(r);
  }
  const set = new AppChannelSet({ channel: first, controlFd: appFd, logger });
  const main = new FdSocket(
    mainFd,
    () => undefined,
    () => undefined,
  );
  return {
    set,
    main,
    logged,
    routers,
    first,
    give(router = RouterChannel.create()) {
      main.send(AppChannelSet.CONTROL_CHANNEL, router.fds);
      router.closeChildFds();
      routers.push(router);
      return router;
    },
  };
}

/** Serves every request with "<ordinal of the channel> <target>". */
function serve(set: AppChannelSet): AppRequest[] {
  const held: AppRequest[] = [];
  set.on('request', (req: AppRequest) => {
    if (req.target === '/hold') {
      held.push(req);
      return;
    }
    req.respond(200, ['x-conn', String(req.connection)]);
    req.end(req.target);
  });
  return held;
}

function teardown(f: Fixture): void {
  f.set.close();
  f.main.close();
  for (const r of f.routers) r.close();
}

describe('control messages (test/vectors/control.json, shared with the Go app end)', () => {
  const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, 'vectors', 'control.json'), 'utf8')) as {
    cases: { payload: string; fds: number; expect: string }[];
  };
  it.each(vectors.cases.map((c) => [c.payload, c.fds, c.expect]))('%s with %i fds is %s', (payload, fds, expected) => {
    expect(classifyControl(Buffer.from(payload as string), fds as number)).toBe(expected);
  });
});

describe('AppChannelSet: one app process serving several routers', () => {
  it('serves the first channel and channels added over the control socket, READY sent to late ones at once', async () => {
    const f = fixture();
    serve(f.set);
    f.set.markReady({ connections: true });
    await f.routers[0].ready;
    const second = f.give();
    await second.ready; // markReady applied to the channel that came later
    expect(second.connectionIds).toBe(true);
    expect(f.set.size).toBe(2);
    const [a, b] = await Promise.all([collect(f.routers[0].request(head({ target: '/a' }))), collect(second.request(head({ target: '/b' })))]);
    expect(a.body.toString()).toBe('/a');
    expect(b.body.toString()).toBe('/b');
    expect(f.set.connectionIds).toBe(true);
    expect(f.set.trailersSupported).toBe(true); // the router offers every feature
    teardown(f);
  });

  it('makes connection ids unique across channels, in requests and in connection-close', async () => {
    const f = fixture();
    serve(f.set);
    f.set.markReady({ connections: true });
    const second = f.give();
    await Promise.all([f.routers[0].ready, second.ready]);
    const r0 = await collect(f.routers[0].request(head({ connection: 5 })));
    const r1 = await collect(second.request(head({ connection: 5 })));
    expect(r0.headers).toEqual(['x-conn', '5']);
    expect(r1.headers).toEqual(['x-conn', String(2 ** 32 + 5)]);
    expect(AppChannelSet.channelOf(2 ** 32 + 5)).toBe(1);
    expect(AppChannelSet.channelOf(5)).toBe(0);
    const closed = once(f.set, 'connection-close');
    second.connectionClosed(5);
    expect(await closed).toEqual([2 ** 32 + 5]);
    teardown(f);
  });

  it('drops a channel whose router died: its requests are aborted, the others keep serving', async () => {
    const f = fixture();
    const held = serve(f.set);
    f.set.markReady();
    const second = f.give();
    await Promise.all([f.routers[0].ready, second.ready]);
    second.request(head({ target: '/hold' }));
    while (held.length === 0) await new Promise((r) => setImmediate(r));
    const aborted = once(held[0], 'abort');
    const dropped = once(f.set, 'channel-close');
    second.close(); // the router died
    await aborted;
    expect((await dropped)[0]).toBe(1);
    expect(f.set.size).toBe(1);
    expect((await collect(f.routers[0].request(head({ target: '/still' })))).body.toString()).toBe('/still');
    teardown(f);
  });

  it('waits without channels for a new one (a restarted router), then serves it', async () => {
    const f = fixture();
    serve(f.set);
    f.set.markReady();
    let closed = false;
    f.set.on('close', () => (closed = true));
    const dropped = once(f.set, 'channel-close');
    f.routers[0].close();
    await dropped;
    expect(f.set.size).toBe(0);
    expect(closed).toBe(false);
    const restarted = f.give();
    await restarted.ready;
    expect((await collect(restarted.request(head({ target: '/back' })))).body.toString()).toBe('/back');
    expect(closed).toBe(false);
    teardown(f);
  });

  it('closes with WARDEN_ERR_SHM_PEER_GONE when the control socket closes, and closes every channel', async () => {
    const f = fixture();
    serve(f.set);
    f.set.markReady();
    const second = f.give();
    await Promise.all([f.routers[0].ready, second.ready]);
    const closed = once(f.set, 'close');
    const routerSaw = Promise.all(f.routers.map((r) => once(r, 'close')));
    f.main.close();
    const [err] = await closed;
    expect(err).toMatchObject({ code: 'WARDEN_ERR_SHM_PEER_GONE' });
    await routerSaw;
    expect(f.set.size).toBe(0);
    teardown(f);
  });

  it('without a control socket (an older wardend) closes with its one channel, as a bare AppChannel', async () => {
    const r = RouterChannel.create();
    const ch = AppChannel.open(r.fds[0], r.fds[1]);
    r._forgetChildFds();
    const set = new AppChannelSet({ channel: ch });
    set.markReady();
    await r.ready;
    const closed = once(set, 'close');
    r.close();
    expect(await closed).toEqual([undefined]);
  });

  it('emits shutdown once on the control op, and closes channels that arrive after it', async () => {
    const f = fixture();
    serve(f.set);
    f.set.markReady();
    let shutdowns = 0;
    f.set.on('shutdown', () => shutdowns++);
    const first = once(f.set, 'shutdown');
    f.main.send(AppChannelSet.CONTROL_SHUTDOWN);
    f.main.send('{"op":"shutdown"}');
    await first;
    const late = f.give();
    await expect(late.ready).rejects.toBeDefined(); // closed at once, never READY
    const seen = once(f.first!, 'shutdown');
    f.routers[0].shutdown();
    await seen;
    expect(shutdowns).toBe(1);
    teardown(f);
  });

  it('emits shutdown once every open channel got SHUTDOWN (a died one does not count), then closes after the last', async () => {
    const f = fixture();
    serve(f.set);
    f.set.markReady();
    // Added directly (AppChannelSet.add) to watch each app end receive its SHUTDOWN.
    const apps = [f.first!];
    const [second, third] = [0, 1].map(() => {
      const r = RouterChannel.create();
      apps.push(AppChannel.open(r.fds[0], r.fds[1]));
      r._forgetChildFds();
      f.set.add(apps[apps.length - 1]);
      f.routers.push(r);
      return r;
    });
    await Promise.all([f.routers[0].ready, second.ready, third.ready]);
    let shutdowns = 0;
    f.set.on('shutdown', () => shutdowns++);
    const delivered = Promise.all([once(apps[0], 'shutdown'), once(apps[1], 'shutdown')]);
    f.routers[0].shutdown();
    second.shutdown();
    await delivered;
    expect(shutdowns).toBe(0); // the third has not asked
    const shut = once(f.set, 'shutdown');
    third.close(); // died: the two open channels both asked
    await shut;
    expect(shutdowns).toBe(1);
    const closed = once(f.set, 'close');
    for (const ch of [f.routers[0], second]) ch.close();
    expect(await closed).toEqual([undefined]); // retired and no channel left: nothing to wait for
    f.main.close();
  });

  it('ignores malformed and unknown control messages, closing their fds, and keeps working', async () => {
    const f = fixture();
    serve(f.set);
    f.set.markReady();
    await f.routers[0].ready;
    const before = fs.readdirSync('/proc/self/fd').length;
    const devnull = () => fs.openSync('/dev/null', 'r');
    const sendAndClose = (payload: string, fds: number[]) => {
      f.main.send(payload, fds);
      fds.forEach(closeFd);
    };
    sendAndClose('not json', [devnull()]);
    sendAndClose('{"op":"channel"}', [devnull()]);
    sendAndClose('{"op":"channel"}', [devnull(), devnull(), devnull()]);
    sendAndClose('{"op":"channel"}', [devnull(), devnull()]); // not a channel's memory
    sendAndClose('{"op":"from-the-future","x":1}', [devnull()]);
    sendAndClose('[1,2]', []);
    const next = f.give();
    await next.ready; // everything before it was handled
    expect(f.logged).toEqual([
      'malformed control message ignored',
      'malformed control message ignored',
      'malformed control message ignored',
      'a channel from the control socket cannot be opened; ignored',
      'malformed control message ignored',
    ]);
    // The new channel holds its doorbell here and the router its own: the messages' fds are all closed.
    expect(fs.readdirSync('/proc/self/fd').length).toBe(before + 2);
    expect((await collect(next.request(head({ target: '/ok' })))).body.toString()).toBe('/ok');
    teardown(f);
  });

  it("fromEnv ignores the warden CLI's WARDEN_CONTROL (a control API address), outside wardend and beside a channel", async () => {
    for (const cli of ['unix:/run/warden/control.sock', '127.0.0.1:8443', '[::1]:8443']) {
      expect(AppChannelSet.fromEnv({ WARDEN_CONTROL: cli })).toBeNull();
    }
    const r = RouterChannel.create();
    const set = AppChannelSet.fromEnv({ ...r.env(), WARDEN_CHANNEL: `v1:fds=${r.fds[0]},${r.fds[1]}`, WARDEN_CONTROL: 'unix:/x.sock' })!;
    r._forgetChildFds();
    set.markReady();
    await r.ready;
    const closed = once(set, 'close');
    r.close(); // no control socket: the one channel's close is the set's
    await closed;
    expect(() => AppChannelSet.fromEnv({ WARDEN_CONTROL: 'v2:fd=5' })).toThrow(/WARDEN_ERR_SHM_SETUP/);
  });

  it('fromEnv: null outside wardend, WARDEN_CONTROL alone waits for a channel, a bad value is WARDEN_ERR_SHM_SETUP', async () => {
    expect(AppChannelSet.fromEnv({})).toBeNull();
    expect(() => AppChannelSet.fromEnv({ WARDEN_CONTROL: 'v1:fd=x' })).toThrow(/WARDEN_ERR_SHM_SETUP.*v1:fd=<socket>/);
    const notSocket = fs.openSync(__filename, 'r'); // a regular file cannot be polled
    expect(() => AppChannelSet.fromEnv({ WARDEN_CONTROL: `v1:fd=${notSocket}` })).toThrow(/WARDEN_ERR_SHM_SETUP.*cannot poll/);
    fs.closeSync(notSocket);
    const [mainFd, appFd] = FdSocket.pair();
    expect(AppChannelSet.controlEnv(appFd)).toEqual({ WARDEN_CONTROL: `v1:fd=${appFd}` });
    const set = AppChannelSet.fromEnv(AppChannelSet.controlEnv(appFd))!;
    expect(set.size).toBe(0);
    set.markReady();
    const main = new FdSocket(
      mainFd,
      () => undefined,
      () => undefined,
    );
    const r = RouterChannel.create();
    main.send('{"op":"channel"}', r.fds);
    r.closeChildFds();
    await r.ready;
    expect(set.size).toBe(1);
    set.close();
    main.close();
    r.close();
  });
});
