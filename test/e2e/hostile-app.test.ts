import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, startWardend, worldDir, type Wardend } from './support/wardend';

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('hostile-app e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');

/** An app that answers with headers HTTP forbids gets 502 for that request only; its other requests go on. */
describeGo('a misbehaving app', () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-bad-');
    const bad = goBuild(join(ROOT, 'test/e2e/apps/bad'), join(dir, 'bad'));
    w = await startWardend([], dir);
    port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/bad' } },
      applications: { bad: { type: 'external', executable: bad, processes: 1 } },
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it.each(['/badname', '/badvalue'])('%s: 502 for that request, the in-flight one on the same process still succeeds', async (path) => {
    const pid = (await http(port, '/slow?ms=0')).body.toString();
    const slow = http(port, '/slow?ms=800');
    const bad = await http(port, path);
    expect(bad.status).toBe(502);
    const done = await slow;
    expect(done.status).toBe(200);
    expect(done.body.toString()).toBe(pid);
    expect(w.log()).not.toMatch(/exited unexpectedly/);
  });
});
