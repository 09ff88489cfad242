import 'reflect-metadata';
import pino from 'pino';
import { container as rootContainer } from 'tsyringe';
import type { WardenConfig } from '../src/contracts';
import { ApplyError, TOKENS } from '../src/contracts';
import { poolPolicy } from '../src/runtime/app-pool';
import { Supervisor } from '../src/runtime/supervisor';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';
import { fakeExternalLauncher } from './harness';

// An app whose process never says READY on its channel: `/bin/sleep` runs, but is no Warden app.
const mute: WardenConfig = { applications: { mute: { type: 'external', executable: '/bin/sleep', arguments: ['30'] } } } as WardenConfig;
const launcher = {
  ...fakeExternalLauncher,
  launch: () => ({ executable: '/bin/sleep', argv: ['sleep', '30'], env: {} }),
};

// One router process (as wardend's user: the test's own), shared by the tests below.
let fleet: RouterFleet;
beforeAll(() => {
  fleet = new RouterFleet(1, { uid: process.getuid!(), gid: process.getgid!(), groups: [] }, pino({ level: 'silent' }));
});
afterAll(() => fleet.shutdown());

function supervisor(options: { applyDeadlineMs?: number; readyTimeoutMs?: number }): Supervisor {
  const container = rootContainer.createChildContainer();
  container.register(TOKENS.AppLauncher, { useValue: launcher });
  return new Supervisor(container, pino({ level: 'silent' }), {
    contextFor: (appName) => ({
      appName,
      daemonUid: 0,
      daemonGid: 0,
      defaultUser: 'nobody',
      defaultGroup: 'nogroup',
      tmpdir: '/tmp',
      credentials: { user: 'nobody', uid: 65534, group: 'nogroup', gid: 65534, groups: [65534], home: '/nonexistent' },
    }),
    ...options,
    fleet,
  });
}

describe('the supervisor', () => {
  it("maps Unit's processes: absent = 1 kept, N = max = spare = N kept, an object's keys default to 1, 0 and 15 s", () => {
    expect(poolPolicy({ type: 'external' })).toMatchObject({ initial: 1, max: 1, spare: 1, idleTimeoutMs: 0 });
    expect(poolPolicy({ type: 'external', processes: 3 })).toMatchObject({ initial: 3, max: 3, spare: 3, idleTimeoutMs: 0 });
    expect(poolPolicy({ type: 'external', processes: {} })).toMatchObject({ initial: 0, max: 1, spare: 0, idleTimeoutMs: 15000 });
    expect(poolPolicy({ type: 'external', processes: { max: 4, spare: 2, idle_timeout: 3 } })).toMatchObject({
      initial: 2,
      max: 4,
      spare: 2,
      idleTimeoutMs: 3000,
    });
  });

  it('fails an apply that has not started its apps within the apply deadline, naming the app and step', async () => {
    const s = supervisor({ applyDeadlineMs: 300, readyTimeoutMs: 20000 });
    const t0 = Date.now();
    const err = await s.prepare(mute).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplyError);
    expect(err).toMatchObject({ app: 'mute', step: 'deadline' });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(s.status()).toEqual({ applications: {} });
    await s.shutdown();
  });

  it('abort() makes a prepare in progress fail at once (SIGTERM during an apply)', async () => {
    const s = supervisor({ readyTimeoutMs: 20000 });
    const t0 = Date.now();
    const prepared = s.prepare(mute).then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 200));
    s.abort();
    expect(await prepared).toBeInstanceOf(ApplyError);
    expect(Date.now() - t0).toBeLessThan(5000);
    await s.shutdown();
  });
});
