// An app that rings its doorbell without publishing frames: wardend closes that channel as a protocol violation
// (the request in flight gets 502), replaces the process, and the app's next requests are served by the new one.
import { join } from 'path';
import { ROOT, cleanup, freePort, http, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const FLOOD = join(ROOT, 'test/e2e/apps/flood/flood.js');

describe('an app that floods its doorbell', () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-flood-');
    // One router: the flood is on the channel to it (this app speaks one channel, AppChannel, not AppChannelSet).
    w = await startWardend(['--routers', '1'], dir);
    port = await freePort();
    const app = { type: 'external', executable: process.execPath, arguments: [FLOOD], processes: 1 };
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } },
      routes: [{ match: { uri: '/other' }, action: { pass: 'applications/other' } }, { action: { pass: 'applications/flood' } }],
      applications: { flood: app, other: app },
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('gets 502 for the request in flight, its process replaced, and the other app unaffected', async () => {
    const before = (await http(port, '/')).body.toString();
    const other = (await http(port, '/other')).body.toString();
    const flooded = await http(port, '/flood');
    expect(flooded.status).toBe(502);
    expect(w.log()).toMatch(/doorbell flood/);
    await w.waitForLog(/broke the channel protocol: replacing it/);
    let after = before;
    await waitUntil(async () => {
      const r = await http(port, '/').catch(() => null);
      if (r?.status === 200) after = r.body.toString();
      return after !== before;
    }, 'a new process serves the app');
    expect(Number(after)).toBeGreaterThan(0);
    const otherAfter = await http(port, '/other');
    expect(otherAfter.status).toBe(200);
    expect(otherAfter.body.toString()).toBe(other); // the other app's process was never touched
  });
});
