import { fstatSync } from 'fs';
import pino from 'pino';
import { FdSocket } from '@warden/shm-transport';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';
import { AppWorker } from '../src/runtime/app-worker';
import { ApplyError } from '../src/contracts';

/**
 * Each router opens a channel ahead of time; a process start takes it (and asks for the next) instead of waiting for
 * a round trip to the router before it can spawn. Without a spare at hand it asks the router as before.
 */
describe('spare channels', () => {
  let fleet: RouterFleet;
  const sent: { op: string; token?: number; spare?: number; pool?: number }[] = [];
  const opened: number[] = [];
  let answer = true;
  const internals = () =>
    fleet as unknown as {
      links: (unknown | null)[];
      askSpare(link: unknown): void;
      onChannelFds(link: unknown, token: number, fds: number[]): void;
      onMessage(link: unknown, m: unknown): void;
      onExit(link: unknown, code: number | null, signal: string | null): void;
    };
  // A router that answers spare-channel and open-channel with a channel's two fds (a socket pair stands in for them).
  const link = {
    index: 1,
    state: 'up',
    up: Promise.resolve({ pid: 1, uid: 0, gid: 0 }),
    send: (m: { op: string; token?: number }) => {
      sent.push(m);
      if ((m.op !== 'open-channel' && m.op !== 'spare-channel') || !answer) return;
      const fds = FdSocket.pair();
      opened.push(...fds);
      setImmediate(() => internals().onChannelFds(link, m.token!, fds));
    },
  };
  const peer = (token: number) => ({ token, activity: () => undefined, replace: () => undefined, routerGone: () => undefined });
  const turn = () => new Promise((r) => setImmediate(r));
  const open = (fd: number) => {
    try {
      return fstatSync(fd).isSocket();
    } catch {
      return false;
    }
  };

  beforeEach(() => {
    sent.length = 0;
    opened.length = 0;
    answer = true;
    fleet = new RouterFleet(0, { uid: process.getuid!(), gid: process.getgid!(), groups: [] }, pino({ level: 'silent' }));
    internals().links.push(link);
  });
  afterEach(async () => {
    internals().links.length = 0;
    await fleet.shutdown();
  });

  it('a start takes the spare, binds it to the process on the router, and asks for the next one', async () => {
    internals().askSpare(link);
    await turn();
    const spare = sent[0]!;
    expect(spare.op).toBe('spare-channel');
    const spareFds = opened.slice(0, 2);
    const ch = await fleet.openChannels(peer(100), 5);
    expect(ch.fds.slice(0, 2)).toEqual(spareFds);
    expect(sent.slice(1)).toEqual([
      { op: 'bind-channel', spare: spare.token, token: 100, pool: 5 },
      { op: 'spare-channel', token: expect.any(Number) },
    ]);
    expect(sent.some((m) => m.op === 'open-channel')).toBe(false);
    ch.closeChildFds();
    await turn();
    // The next start takes the next spare: still no open-channel.
    const ch2 = await fleet.openChannels(peer(101), 5);
    expect(ch2.fds.slice(0, 2)).toEqual(opened.slice(2, 4));
    expect(sent.filter((m) => m.op === 'open-channel')).toEqual([]);
    ch2.closeChildFds();
  });

  it('without a spare at hand a start asks the router for its channel; a failed spare is asked for again', async () => {
    answer = false;
    internals().askSpare(link); // on its way, not here yet
    answer = true;
    const ch = await fleet.openChannels(peer(100), 5);
    expect(sent.map((m) => m.op)).toEqual(['spare-channel', 'open-channel']);
    ch.closeChildFds();
    // The router could not open the spare: the next start asks as before and asks for a spare again.
    internals().onMessage(link, { op: 'channel-failed', token: sent[0]!.token, message: 'EMFILE' });
    sent.length = 0;
    const ch2 = await fleet.openChannels(peer(101), 5);
    expect(sent.map((m) => m.op)).toEqual(['spare-channel', 'open-channel']);
    ch2.closeChildFds();
  });

  it('a process stopped while its start waits for the router fails at once; the late channel is closed', async () => {
    // SIGTERM during an apply (Supervisor.abort) stops the pool's processes; one still waiting for its channel from a
    // busy router used to wait out the channel timeout (10 s) before its start failed.
    answer = false;
    internals().askSpare(link); // on its way, not here yet: the start asks with open-channel
    const worker = new AppWorker(100, fleet, 5, pino({ level: 'silent' }));
    const spec = { executable: '/bin/true', argv: ['true'], env: {} };
    const started = worker.start('app', spec, undefined, undefined, 20000).then(
      () => undefined,
      (e: unknown) => e,
    );
    await turn();
    expect(sent.map((m) => m.op)).toEqual(['spare-channel', 'open-channel']);
    const t0 = Date.now();
    await worker.stop(0);
    const err = await started;
    expect(err).toBeInstanceOf(ApplyError);
    expect(err).toMatchObject({ app: 'app', step: 'start' });
    expect(Date.now() - t0).toBeLessThan(1000);
    // The router answers after all: main closes what it sent.
    const late = FdSocket.pair();
    internals().onChannelFds(link, 100, late);
    expect(late.some(open)).toBe(false);
  });

  it('a start stopped before the routers are up does not wait for them', async () => {
    const ac = new AbortController();
    const never = new Promise<never>(() => undefined);
    (link as { up: Promise<unknown> }).up = never;
    try {
      const opening = fleet.openChannels(peer(100), 5, ac.signal).then(
        () => undefined,
        (e: unknown) => e,
      );
      await turn();
      ac.abort();
      expect(await opening).toMatchObject({ step: 'start' });
      expect(sent.some((m) => m.op === 'open-channel')).toBe(false);
    } finally {
      (link as { up: Promise<unknown> }).up = Promise.resolve({ pid: 1, uid: 0, gid: 0 });
    }
  });

  it("closes a spare's fds in main when its router exits, and when wardend stops", async () => {
    internals().askSpare(link);
    await turn();
    const first = opened.slice(0, 2);
    expect(first.every(open)).toBe(true);
    // Its exit, as for a router stopped on purpose: one that died would be started again, for real, at once.
    internals().links[0] = null;
    internals().onExit(link, 1, null);
    internals().links[0] = link;
    expect(first.some(open)).toBe(false);
    internals().askSpare(link);
    await turn();
    const second = opened.slice(2, 4);
    expect(second.every(open)).toBe(true);
    internals().links.length = 0;
    await fleet.shutdown();
    expect(second.some(open)).toBe(false);
  });
});
