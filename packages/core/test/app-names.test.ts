import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import type { WardenConfig } from '../src/contracts';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';
import { channelAppSupervisor } from './harness';

/**
 * Application names are any strings, as in Unit: `__proto__` or `constructor` as well. An app named `__proto__` started,
 * but the name map sent to the routers set that object's prototype instead of a key, so every request got 503, and
 * `/status` left it out.
 */
describe('an application named __proto__', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-app-names-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is announced to the routers and shown in the status under its name', async () => {
    const fleet = new RouterFleet(1, { uid: process.getuid!(), gid: process.getgid!(), groups: [] }, pino({ level: 'silent' }));
    const announced: Record<string, number>[] = [];
    const setApps = fleet.setApps.bind(fleet);
    fleet.setApps = (apps) => {
      announced.push(apps);
      setApps(apps);
    };
    const s = channelAppSupervisor(fleet, dir, { CHANNEL_APP_EVENTS: join(dir, 'events') });
    try {
      const change = await s.prepare(JSON.parse('{"applications": {"__proto__": {"type": "external"}, "constructor": {"type": "external"}}}') as WardenConfig);
      await change.commit();
      const last = JSON.parse(JSON.stringify(announced[announced.length - 1])) as Record<string, unknown>;
      expect(Object.keys(last).sort()).toEqual(['__proto__', 'constructor']);
      const status = JSON.parse(JSON.stringify(s.status())) as { applications: Record<string, unknown> };
      expect(Object.keys(status.applications).sort()).toEqual(['__proto__', 'constructor']);
    } finally {
      await fleet.shutdown();
      await s.shutdown();
    }
  }, 30000);
});
