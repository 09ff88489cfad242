import { chmodSync, readlinkSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

/**
 * Rootless mode: wardend run by an unprivileged user (here `nobody`, uid 65534) still isolates its apps in a user
 * namespace of their own, with Unit's unprivileged rules (one map entry: the daemon's own uid), and still serves them
 * over shared memory.
 */
const ready = isRoot && haveGo();
const describeRoot = ready ? describe : describe.skip;
if (!ready) console.warn(`rootless e2e skipped: ${isRoot ? 'go is not installed' : 'requires root to start wardend as nobody'}`);

describeRoot('rootless: wardend as an unprivileged user', () => {
  let dir: string;
  let w: Wardend;
  let port: number;
  const hostNs = (n: string) => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/self/ns/${n}`))![1]);

  beforeAll(async () => {
    dir = worldDir('warden-rootless-');
    chmodSync(dir, 0o777);
    const inspect = goBuild(join(ROOT, 'examples/ns-inspect'), join(dir, 'ns-inspect'));
    w = await startWardend([], dir, { uid: 65534, gid: 65534 });
    port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/inspect' } },
      applications: {
        inspect: {
          type: 'external',
          executable: inspect,
          isolation: { namespaces: { credential: true, pid: true, mount: true, network: true, uname: true, ipc: true } },
        },
      },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it("runs the app in its own namespaces, as the daemon's own uid, with only lo", async () => {
    const seen = JSON.parse((await http(port, '/')).body.toString());
    expect(seen.UID).toBe(65534);
    expect(seen.PID).toBe(2);
    expect(seen.Interfaces).toEqual(['lo']);
    for (const [key, file] of Object.entries({ USER: 'user', PID: 'pid', MNT: 'mnt', NET: 'net', UTS: 'uts', IPC: 'ipc' })) {
      expect([key, seen.NS[key]]).not.toEqual([key, hostNs(file)]);
    }
  });

  it("refuses maps an unprivileged daemon may not write, with Unit's rule", async () => {
    const res = await w.control('PUT', '/config/applications/inspect/isolation/uidmap', [{ container: 0, host: 0, size: 1 }]);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('Invalid configuration.');
  });
});
