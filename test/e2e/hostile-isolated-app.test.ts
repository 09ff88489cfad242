// Attacks by an app on wardend from inside its isolation, each closed (docs/security.md #16-#18).
import { join } from 'path';
import { readFileSync, readdirSync } from 'fs';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, isRoot, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const APP_DIR = join(ROOT, 'test/e2e/apps/hostile-node');

/** Pids of the processes running `sleep <mark>` (a test's own: marks are random). */
function sleeping(mark: number): string[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'latin1') === `sleep\0${mark}\0`;
      } catch {
        return false;
      }
    });
}
const describeRoot = isRoot ? describe : describe.skip;
if (!isRoot) console.warn('hostile-isolated-app e2e skipped: isolated apps need root (namespaces)');

describeRoot('an isolated app attacking wardend', () => {
  let dir: string;
  let w: Wardend;

  beforeAll(async () => {
    dir = worldDir('warden-hostile-iso-');
    w = await startWardend([], dir);
    await w.control('PUT', '/config', { listeners: {}, applications: {} });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  async function serve(name: string, hostile: string, isolated = true): Promise<number> {
    const port = await freePort();
    const res = await w.control('PUT', `/config/applications/${name}`, {
      type: 'node',
      working_directory: APP_DIR,
      script: 'server.js',
      environment: { HOSTILE: hostile, WARDEN_ROOT: ROOT },
      ...(isolated ? { isolation: { namespaces: { pid: true, mount: true } } } : {}),
    });
    expect(res.status).toBe(200);
    expect((await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: `applications/${name}` })).status).toBe(200);
    return port;
  }

  it('#16: output without a newline is logged in 16 KiB pieces as it comes, not held (and grown) in wardend', async () => {
    const port = await serve('longline', 'long-line');
    const piece = 'x'.repeat(16384);
    // readline held the whole line until a newline that never came: nothing logged, wardend's memory the limit.
    await waitUntil(() => w.log().split(piece).length - 1 >= 64, 'the 1 MiB line is logged in 64 pieces', 10_000);
    expect((await http(port, '/')).status).toBe(200);
  });

  it('#17: messages on its control socket get the process replaced; main keeps answering meanwhile', async () => {
    await serve('flood', 'control-flood', false);
    await w.waitForLog(/sent a message on its control socket/, 10_000);
    // main's event loop turns: control requests are answered while the app (and each replacement) floods.
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      const answer = await Promise.race([w.control('GET', '/config/applications'), new Promise((r) => setTimeout(() => r('no answer'), 2000))]);
      expect([answer === 'no answer' ? answer : (answer as { status: number }).status, Date.now() - t0 < 2000]).toEqual([200, true]);
      await new Promise((r) => setTimeout(r, 300));
    }
  }, 60_000);

  (haveGo() ? it : it.skip)("#18: each app has a session keyring of its own, not wardend's (nor another app's)", async () => {
    const bin = goBuild(join(ROOT, 'test/e2e/apps/keyring'), join(dir, 'keyring'));
    // A wardend in a session keyring of its own (as a systemd service has): what its apps possessed, keys and all.
    const kdir = worldDir('warden-keyring-');
    const idFile = join(kdir, 'wardend-keyring');
    const k = await startWardend([], kdir, undefined, {}, [bin, 'join', idFile]);
    try {
      await k.control('PUT', '/config', { listeners: {}, applications: {} });
      const wardends = readFileSync(idFile, 'utf8');
      const apps: Record<string, Record<string, unknown>> = {
        plain: { type: 'external', executable: bin },
        isolated: {
          type: 'external',
          executable: bin,
          user: 'root',
          isolation: {
            namespaces: { pid: true, mount: true, credential: true },
            uidmap: [{ container: 0, host: 300000, size: 1 }],
            gidmap: [{ container: 0, host: 300000, size: 1 }],
          },
        },
      };
      const ids: string[] = [];
      for (const [name, app] of Object.entries(apps)) {
        const port = await freePort();
        const put = await k.control('PUT', `/config/applications/${name}`, app);
        expect([name, put.status, put.body]).toEqual([name, 200, { success: 'Reconfiguration done.' }]);
        expect((await k.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: `applications/${name}` })).status).toBe(200);
        ids.push((await http(port, '/')).body.toString());
      }
      expect(wardends).toMatch(/^\d+$/);
      for (const id of ids) expect(id).toMatch(/^\d+$/);
      expect(new Set([wardends, ...ids]).size).toBe(3);
    } finally {
      await k.stop();
      cleanup(kdir);
    }
  });

  it('leaves no process behind, however deep the chain it started, without a pid namespace', async () => {
    const mark = 100000 + Math.floor(Math.random() * 800000); // `sleep <mark>`: this test's processes only
    const chain = () => sleeping(mark);
    const port = await freePort();
    const put = await w.control('PUT', '/config/applications/chain', {
      type: 'node',
      working_directory: APP_DIR,
      script: 'server.js',
      isolation: { namespaces: { mount: true, uname: true } },
    });
    expect(put.status).toBe(200);
    expect((await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: 'applications/chain' })).status).toBe(200);
    expect((await http(port, `/chain?n=80&mark=${mark}`)).status).toBe(200);
    await waitUntil(() => chain().length === 81, 'the chain of 81 processes is up');
    expect((await w.control('DELETE', `/config/listeners/127.0.0.1:${port}`)).status).toBe(200);
    expect((await w.control('DELETE', '/config/applications/chain')).status).toBe(200);
    // Killed a generation per round for 50 rounds, 31 of them outlived the app under the host's init.
    await waitUntil(() => chain().length === 0, 'no process of the chain is left', 10_000);
  }, 30_000);

  it('leaves no process behind when the app kills its own prototype (a credential namespace without pid)', async () => {
    const mark = 100000 + Math.floor(Math.random() * 800000);
    const port = await freePort();
    const put = await w.control('PUT', '/config/applications/killer', {
      type: 'node',
      working_directory: APP_DIR,
      script: 'server.js',
      user: 'root',
      isolation: {
        namespaces: { credential: true, mount: true },
        uidmap: [{ container: 0, host: 310000, size: 1 }],
        gidmap: [{ container: 0, host: 310000, size: 1 }],
      },
    });
    expect([put.status, put.body]).toEqual([200, { success: 'Reconfiguration done.' }]);
    expect((await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: 'applications/killer' })).status).toBe(200);
    expect((await http(port, `/killproto?mark=${mark}`)).status).toBe(200);
    await waitUntil(() => sleeping(mark).length === 1, 'the app started its sleep');
    // The prototype is gone with its app process; the sleep went to the host's init and stayed, whatever wardend did.
    await waitUntil(() => sleeping(mark).length === 0, 'the sleep goes with the prototype', 10_000);
    expect((await w.control('DELETE', `/config/listeners/127.0.0.1:${port}`)).status).toBe(200);
    expect((await w.control('DELETE', '/config/applications/killer')).status).toBe(200);
  }, 30_000);
});
