import pino from 'pino';
import type { ProcessChannels, RouterFleet } from '../src/runtime/fleet/router-fleet';
import type { ProcessActivity } from '../src/runtime/fleet/protocol';
import { AppWorker } from '../src/runtime/app-worker';

/**
 * A process drained until idle (retired by a change, a restart, `limits.requests`) gets its grace only while no
 * request is in flight on it: a long request finishes however long it takes, as in Unit, and one that a dead router
 * had in flight does not keep it alive.
 */
describe('the drain clock of a retired process', () => {
  const retired: number[] = [];
  const fleet = {
    openChannels: async (): Promise<ProcessChannels> => ({
      fds: [],
      env: {},
      started: () => undefined,
      closeChildFds: () => undefined,
      ready: Promise.resolve(),
    }),
    retire: (token: number) => retired.push(token),
    gone: () => undefined,
  } as unknown as RouterFleet;
  const activity = (inflight: number): ProcessActivity =>
    ({ token: 1, inflight, served: 1, idleSince: 0, stalled: false, ringFullWaits: 0, creditWaits: 0 }) as ProcessActivity;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
  const settledWithin = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), sleep(ms).then(() => false)]);

  async function started(): Promise<AppWorker> {
    const w = new AppWorker(1, fleet, 1, pino({ level: 'silent' }));
    await w.start('app', { executable: '/bin/sleep', argv: ['sleep', '60'], env: {} }, undefined, undefined, 5000);
    return w;
  }

  it('waits while a request is in flight, then gives the grace once there is none', async () => {
    const w = await started();
    w.activity(1, activity(1));
    const stopped = w.stop(200, true);
    expect(retired).toContain(1);
    expect(await settledWithin(stopped, 700)).toBe(false); // three graces with a request in flight: still there
    w.activity(1, activity(0));
    expect(await settledWithin(stopped, 2000)).toBe(true);
    expect((await stopped).signal).toBe('SIGTERM');
  });

  it('stops the clock when a request is reported in flight again', async () => {
    const w = await started();
    const stopped = w.stop(300, true);
    await sleep(150);
    w.activity(1, activity(1)); // a request the router had picked it for before it heard of the retirement
    expect(await settledWithin(stopped, 600)).toBe(false);
    w.activity(1, activity(0));
    expect(await settledWithin(stopped, 2000)).toBe(true);
  });

  it('does not wait for the requests of a router that died', async () => {
    const w = await started();
    w.activity(1, activity(0));
    w.activity(2, activity(3));
    const stopped = w.stop(200, true);
    expect(await settledWithin(stopped, 600)).toBe(false);
    w.routerGone(2);
    expect(await settledWithin(stopped, 2000)).toBe(true);
  });

  it('without untilIdle the grace runs from the stop, requests in flight or not (wardend stopping)', async () => {
    const w = await started();
    w.activity(1, activity(2));
    expect(await settledWithin(w.stop(200), 2000)).toBe(true);
  });
});
