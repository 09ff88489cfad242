import { fstatSync } from 'fs';
import pino from 'pino';
import { FdSocket } from '@warden/shm-transport';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';

/**
 * A router that joins (started again after a crash, or one more router) gets a channel to every app process, a
 * process that is still starting included: its channel is kept until the process runs, then passed to it. Before,
 * the join skipped processes without a pid yet, and such a process never served the new router.
 */
describe('a router that joins while an app process is starting', () => {
  let fleet: RouterFleet;
  const opened: number[] = [];
  const internals = () =>
    fleet as unknown as {
      processes: Map<number, { peer: { token: number }; pid: number; late: number[][]; [k: string]: unknown }>;
      join(link: unknown): Promise<void>;
      onChannelFds(link: unknown, token: number, fds: number[]): void;
    };
  // A router that answers each open-channel with a channel's two fds (here a socket pair stands in for them).
  const link = {
    index: 2,
    up: Promise.resolve({ pid: 1, uid: 0, gid: 0 }),
    send: (m: { op: string; token?: number }) => {
      if (m.op !== 'open-channel') return;
      const fds = FdSocket.pair();
      opened.push(...fds);
      setImmediate(() => internals().onChannelFds(link, m.token!, fds));
    },
  };

  beforeEach(() => {
    opened.length = 0;
    fleet = new RouterFleet(0, { uid: process.getuid!(), gid: process.getgid!(), groups: [] }, pino({ level: 'silent' }));
  });
  afterEach(async () => {
    await fleet.shutdown();
  });

  const entry = (token: number, pid: number) => ({
    peer: { token },
    pool: 1,
    pid,
    control: null,
    pending: new Map(),
    readyWaits: new Map(),
    late: [] as number[][],
  });

  it('opens a channel for the starting process too and keeps it until the process runs; an exit closes it', async () => {
    const starting = entry(7, 0);
    internals().processes.set(7, starting);
    await internals().join(link);
    expect(opened).toHaveLength(2);
    expect(starting.late).toEqual([opened]);
    for (const fd of opened) expect(fstatSync(fd).isSocket()).toBe(true); // kept open for the process
    fleet.gone(7, 'exited');
    expect(starting.late).toEqual([]);
    for (const fd of opened) expect(() => fstatSync(fd)).toThrow(/EBADF/);
  });
});
