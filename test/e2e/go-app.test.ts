import { createHash, randomBytes } from 'crypto';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, startWardend, worldDir, type Wardend } from './support/wardend';

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('go-app e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');

describeGo('a Go app served by wardend over shared memory', () => {
  let dir: string;
  let inspect: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-go-');
    inspect = goBuild(join(ROOT, 'examples/ns-inspect'), join(dir, 'ns-inspect'));
    w = await startWardend([], dir);
    port = await freePort();
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('answers through a listener after one PUT of the config', async () => {
    const put = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/inspect' } },
      applications: { inspect: { type: 'external', executable: inspect } },
    });
    expect(put).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
    const res = await http(port, '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    const seen = JSON.parse(res.body.toString());
    expect(seen.PID).toBeGreaterThan(1);
    expect(typeof seen.NS.PID).toBe('number');
  });

  it('runs the app as nobody by default when wardend is root', async () => {
    if (process.getuid?.() !== 0) return console.warn('skipped: requires root');
    const seen = JSON.parse((await http(port, '/')).body.toString());
    expect(seen.UID).toBe(65534);
  });

  it('reports the app in /status with a running process', async () => {
    await http(port, '/');
    const st = await w.control('GET', '/status');
    expect(st.status).toBe(200);
    expect(st.body.applications.inspect.processes.running).toBe(1);
    expect(st.body.requests.total).toBeGreaterThan(0);
    expect(st.body.connections.accepted).toBeGreaterThan(0);
  });

  it('round-trips request bodies through the echo app intact', async () => {
    const echo = goBuild(join(ROOT, 'test/e2e/apps/echo'), join(dir, 'echo'));
    const echoPort = await freePort();
    expect((await w.control('PUT', `/config/applications/echo`, { type: 'external', executable: echo })).status).toBe(200);
    // Unit's default max_body_size is 8 MiB; the 50 MiB body needs more.
    expect((await w.control('PUT', '/config/settings', { http: { max_body_size: 64 << 20 } })).status).toBe(200);
    const over = await http(port, '/', { method: 'POST', body: randomBytes(65 << 20) }).catch(() => ({ status: 413 }));
    expect(over.status).toBe(413);
    expect((await w.control('PUT', `/config/listeners/127.0.0.1:${echoPort}`, { pass: 'applications/echo' })).status).toBe(200);
    for (const size of [0, 1 << 20, 50 << 20]) {
      const body = randomBytes(size);
      const res = await http(echoPort, '/echo', { method: 'POST', body });
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(size);
      expect(createHash('sha256').update(res.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    }
  });

  it('logs an app process killed with SIGKILL and serves the next requests from a new process', async () => {
    const res = await http(port, '/');
    const pid = JSON.parse(res.body.toString()).PID;
    const st = await w.control('GET', '/status/applications/inspect');
    expect(st.body.processes.running).toBe(1);
    process.kill(pid, 'SIGKILL'); // no pid namespace: the app's own pid is its host pid
    await w.waitForLog(/exited unexpectedly \(signal SIGKILL\)/);
    // With Unit's default processes {max: 1, spare: 0} the next request starts a new process and waits for it.
    const again = await http(port, '/');
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body.toString()).PID).not.toBe(pid);
  });
});
