import { createHash, randomBytes } from 'crypto';
import { readlinkSync, readFileSync } from 'fs';
import { join } from 'path';
import { expectNodeHelloServes } from './support/node-hello';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

const FIXTURES = join(ROOT, 'packages/app-types/test/fixtures');
const ready = isRoot && haveGo();
const describeRoot = ready ? describe : describe.skip;
if (!ready) console.warn(`isolated-apps e2e skipped: ${isRoot ? 'go is not installed' : 'requires root (namespaces with id maps)'}`);

const isolation = {
  namespaces: { credential: true, pid: true, mount: true, network: true, uname: true, cgroup: true, ipc: true },
  uidmap: [{ host: 1000, container: 0, size: 1000 }],
  gidmap: [{ host: 1000, container: 0, size: 1000 }],
};
const hostNs = (name: string) => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/self/ns/${name}`))![1]);

describeRoot('Go and Node apps with every namespace on, served over shared memory', () => {
  let dir: string;
  let w: Wardend;
  const port: Record<string, number> = {};

  beforeAll(async () => {
    dir = worldDir('warden-iso-');
    const inspect = goBuild(join(ROOT, 'examples/ns-inspect'), join(dir, 'ns-inspect'));
    const echo = goBuild(join(ROOT, 'test/e2e/apps/echo'), join(dir, 'echo'));
    w = await startWardend([], dir);
    for (const n of ['inspect', 'echo', 'node']) port[n] = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: Object.fromEntries(Object.entries(port).map(([n, p]) => [`127.0.0.1:${p}`, { pass: `applications/${n}` }])),
      applications: {
        inspect: { type: 'external', executable: inspect, user: 'root', processes: 2, isolation },
        echo: { type: 'external', executable: echo, user: 'root', isolation },
        node: { type: 'node', working_directory: FIXTURES, script: 'hello-cjs.js', user: 'root', isolation },
      },
      settings: { http: { max_body_size: 16 << 20 } },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('the Go app sees its own namespaces, only lo, uid 0 inside and a small pid', async () => {
    const seen = JSON.parse((await http(port.inspect, '/')).body.toString());
    for (const [key, file] of Object.entries({ USER: 'user', PID: 'pid', IPC: 'ipc', CGROUP: 'cgroup', UTS: 'uts', MNT: 'mnt', NET: 'net' })) {
      expect([key, seen.NS[key]]).not.toEqual([key, hostNs(file)]);
    }
    expect(seen.Interfaces).toEqual(['lo']);
    expect(seen.UID).toBe(0);
    expect(seen.PID).toBeLessThan(10);
  });

  it('two processes of one app share one set of namespaces', async () => {
    const st = await w.control('GET', '/status/applications/inspect');
    expect(st.body.processes.running).toBe(2);
    // Two concurrent slow requests land on different processes (least busy first); both report the same ids.
    const answers = await Promise.all([http(port.inspect, '/'), http(port.inspect, '/')]);
    const seen = answers.map((a) => JSON.parse(a.body.toString()));
    expect(seen[0].NS).toEqual(seen[1].NS);
  });

  it('the Go echo app round-trips a 10 MiB body with no network of its own', async () => {
    const body = randomBytes(10 << 20);
    const res = await http(port.echo, '/echo', { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(createHash('sha256').update(res.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('the unmodified Node app serves GET and a 1 MiB POST from inside its namespaces', async () => {
    await expectNodeHelloServes(port.node);
  });

  it('app processes run as host uid 1000 as mapped', async () => {
    const pids = w
      .log()
      .split('\n')
      .filter((l) => l.includes('app process started') && l.includes('"app":"echo"'));
    const entry = JSON.parse(pids[pids.length - 1]);
    const status = readFileSync(`/proc/${entry.app_pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe('1000');
  });

  it("answers 400 with Unit's message for an invalid isolation object, and 500 naming the step for a runtime failure", async () => {
    const before = (await w.control('GET', '/config')).body;
    const bad = await w.control('PUT', '/config/applications/echo/isolation', {
      namespaces: { pid: true },
      uidmap: [{ host: 1000, container: 0, size: 1000 }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('Invalid configuration.');
    expect(bad.body.detail).toContain('"uidmap" is set but "isolation.namespaces.credential" is false or unset.');
    const unknown = await w.control('PUT', '/config/applications/echo/isolation/namespaces/nosuch', true);
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toContain('Unknown parameter "nosuch".');

    const failing = await w.control('PUT', '/config/applications/echo/isolation', { ...isolation, rootfs: join(dir, 'no-such-rootfs') });
    expect(failing.status).toBe(500);
    expect(failing.body.error).toBe('Failed to apply new configuration.');
    expect(failing.body.detail).toMatch(/echo/);
    expect((await w.control('GET', '/config')).body).toEqual(before);
    expect((await http(port.echo, '/pid')).status).toBe(200);
  });
});
