import { chmodSync, closeSync, copyFileSync, fstatSync, mkdirSync, openSync, readdirSync, statSync, writeFileSync } from 'fs';
import { createServer, type Server } from 'net';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

// Issue 13.1: wardend started as `bash -c 'exec 77</some/dir; wardend ...'` passed fd 77 to every app, and an app with
// a rootfs opened ../../etc/hostname relative to it. wardend must pass on only the fds it means to (0-2 and the
// channel): it closes what it inherited at start (plain-spawned apps), and the spawn helper closes every other fd
// before each exec (isolated apps; tested on its own in packages/ns-linux/test/inherited-fds.test.ts).
const ready = isRoot && haveGo();
const describeRoot = ready ? describe : describe.skip;
if (!ready) console.warn(`inherited-fds e2e skipped: ${isRoot ? 'go is not installed' : 'requires root (namespaces, rootfs, id maps)'}`);

const identity = (st: { dev: number; ino: number }) => `${st.dev}:${st.ino}`;
const map = [{ container: 0, host: 1000, size: 1000 }];

describeRoot('fds wardend inherits from its launcher never reach an app', () => {
  let dir: string;
  let w: Wardend;
  let server: Server;
  let leaked: number[];
  let leakedIds: string[];
  const port: Record<string, number> = {};

  beforeAll(async () => {
    dir = worldDir('warden-fds-');
    const probe = goBuild(join(ROOT, 'test/e2e/apps/probe'), join(dir, 'probe'));
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs, { mode: 0o755 });
    copyFileSync(probe, join(rootfs, 'probe'));
    chmodSync(join(rootfs, 'probe'), 0o755);
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'host file\n');
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // A directory outside every rootfs, a file and a listening socket, at fds 70-72 of wardend (Node itself marks
    // fds below 20 close-on-exec at start, so the leak shows with higher numbers, like the 77).
    leaked = [openSync('/etc', 'r'), openSync(secret, 'r'), (server as unknown as { _handle: { fd: number } })._handle.fd];
    leakedIds = leaked.map((fd) => identity(fstatSync(fd)));
    w = await startWardend([], dir, undefined, { 70: leaked[0], 71: leaked[1], 72: leaked[2] });
    for (const n of ['plain', 'namespaces', 'rootfs']) port[n] = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: Object.fromEntries(Object.entries(port).map(([n, p]) => [`127.0.0.1:${p}`, { pass: `applications/${n}` }])),
      applications: {
        plain: { type: 'external', executable: probe },
        namespaces: {
          type: 'external',
          executable: probe,
          isolation: { namespaces: { pid: true, mount: true, network: true, uname: true, ipc: true } },
        },
        rootfs: {
          type: 'external',
          executable: '/probe',
          user: 'root',
          isolation: { namespaces: { credential: true, pid: true, mount: true }, uidmap: map, gidmap: map, rootfs },
        },
      },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    for (const fd of leaked?.slice(0, 2) ?? []) closeSync(fd);
    server?.close();
    cleanup(dir);
  });

  it.each(['plain', 'namespaces', 'rootfs'])('the %s app holds none of them', async (app) => {
    const seen = JSON.parse((await http(port[app], '/')).body.toString()) as { fds: Record<string, string> };
    expect(Object.keys(seen.fds).length).toBeGreaterThanOrEqual(3);
    expect(Object.values(seen.fds).filter((id) => leakedIds.includes(id))).toEqual([]);
    for (const n of ['70', '71', '72']) expect(seen.fds[n]).toBeUndefined();
  });

  it('wardend closed them at start', () => {
    const pid = w.proc.pid!;
    const held = readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [identity(statSync(`/proc/${pid}/fd/${fd}`))];
      } catch {
        return [];
      }
    });
    expect(held.filter((id) => leakedIds.includes(id))).toEqual([]);
  });
});
