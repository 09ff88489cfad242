import { fstatSync } from 'fs';
import pino from 'pino';
import { FdSocket } from '@warden/shm-transport';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';

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
      links: unknown[];
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
  const peer = (token: number) => ({ token, activity: () => undefined, replace: () => undefined });
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

  it("closes a spare's fds in main when its router exits, and when wardend stops", async () => {
    internals().askSpare(link);
    await turn();
    const first = opened.slice(0, 2);
    expect(first.every(open)).toBe(true);
    internals().onExit(link, 1, null);
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
