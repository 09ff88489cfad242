import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { cleanup, freePort, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

// A `node` app confined to a rootfs that holds nothing but the app: `automount.language_deps` (on by default, as in
// Unit) binds the node binary, its loader and libraries and Warden's runtime modules read-only into it.
const APP = `
const fs = require('fs');
require('http').createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ root: fs.readdirSync('/').sort(), pid: process.pid, canWrite: canWrite() }));
}).listen(8080);
function canWrite() {
  try { fs.writeFileSync(process.execPath, 'x'); return true; } catch (e) { return e.code; }
}
`;

const describeRoot = isRoot ? describe : describe.skip;
if (!isRoot) console.warn('node-rootfs e2e skipped: mount namespaces and pivot_root need root (CI runs as root)');

describeRoot('node app inside a rootfs (automount.language_deps)', () => {
  let dir: string;
  let w: Wardend;
  let rootfs: string;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-node-rootfs-');
    rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'app'), { recursive: true, mode: 0o755 });
    writeFileSync(join(rootfs, 'app', 'app.js'), APP, { mode: 0o644 });
    w = await startWardend([], dir);
    port = await freePort();
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  const config = (automount?: Record<string, boolean>) => ({
    listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/confined' } },
    applications: {
      confined: {
        type: 'node',
        working_directory: '/app',
        script: 'app.js',
        isolation: { namespaces: { mount: true, pid: true, network: true, uname: true, ipc: true }, rootfs, ...(automount ? { automount } : {}) },
      },
    },
  });

  it('serves from a rootfs that holds only the app, seeing the runtime read-only and nothing else of the host', async () => {
    const res = await w.control('PUT', '/config', config());
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
    const r = await http(port, '/');
    expect(r.status).toBe(200);
    const info = JSON.parse(r.body.toString());
    // Only the app, the automounts and the bound runtime paths: no /etc, /home, /root, /bin/sh of the host.
    for (const name of ['app', 'proc', 'tmp', 'usr']) expect(info.root).toContain(name);
    // The node binary's own path is bound too: on CI's second Node (scripts/fetch-node.js) it is under /var/cache.
    const nodeTop = process.execPath.split('/')[1];
    for (const name of ['etc', 'home', 'root', 'bin', 'var'].filter((n) => n !== nodeTop)) expect(info.root).not.toContain(name);
    expect(info.pid).toBe(2); // pid namespace: the prototype is 1, the app 2
    expect(['EROFS', 'EACCES', 'EPERM']).toContain(info.canWrite); // the runtime is read-only (and not ours)
  });

  it('without language_deps the runtime is missing and the start fails with a clear error; the old config stays', async () => {
    const res = await w.control('PUT', '/config', config({ language_deps: false }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body.detail).toMatch(/application "confined", step "execve"/);
    expect((await http(port, '/')).status).toBe(200); // still the working app of the previous test
  });
});
