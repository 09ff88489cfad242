import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import type { WardenConfig } from '../src/contracts';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';
import { channelAppSupervisor } from './harness';

describe('stopping wardend with an app running', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-app-stop-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tells the app to shut down over its control socket once the routers are gone: it exits 0 at once, not at the grace', async () => {
    const events = join(dir, 'events');
    const fleet = new RouterFleet(1, { uid: process.getuid!(), gid: process.getgid!(), groups: [] }, pino({ level: 'silent' }));
    const s = channelAppSupervisor(fleet, dir, { CHANNEL_APP_EVENTS: events }, { drainGraceMs: 5000 });
    try {
      const change = await s.prepare({ applications: { idle: { type: 'external' } } } as WardenConfig);
      await change.commit();
      const worker = s.runningPools().get('idle')!.workers[0]!;
      // wardend stops its components in reverse order: the routers (which finish their requests and exit), then the apps.
      await fleet.shutdown();
      const t0 = Date.now();
      await s.shutdown();
      const took = Date.now() - t0;
      expect(await worker.exited).toEqual({ code: 0, signal: null, expected: true });
      expect(readFileSync(events, 'utf8').trim().split('\n').slice(1)).toEqual(['shutdown']);
      expect(took).toBeLessThan(2500); // the grace (SIGTERM) would be 5000 ms
    } finally {
      await s.shutdown();
      await fleet.shutdown();
    }
  }, 30000);
});
