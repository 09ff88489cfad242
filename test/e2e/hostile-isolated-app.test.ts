// Attacks by an app on wardend from inside its isolation, each closed (docs/security.md #16-#18).
import { join } from 'path';
import { ROOT, cleanup, freePort, http, isRoot, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const APP_DIR = join(ROOT, 'test/e2e/apps/hostile-node');
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

  async function serve(name: string, hostile: string): Promise<number> {
    const port = await freePort();
    const res = await w.control('PUT', `/config/applications/${name}`, {
      type: 'node',
      working_directory: APP_DIR,
      script: 'server.js',
      environment: { HOSTILE: hostile },
      isolation: { namespaces: { pid: true, mount: true } },
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
});
