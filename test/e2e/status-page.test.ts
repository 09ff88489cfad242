// The status page (GET /ui) rendered by headless Chromium, and `warden top --once`, against a wardend serving an app
// (isolated when we are root). With WARDEN_WRITE_DOCS=1 the screenshot is written to docs/status-page.png.
import { execFile, execFileSync } from 'child_process';
import { copyFileSync, existsSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

const FIXTURES = join(ROOT, 'packages/app-types/test/fixtures');
const WARDEN = join(ROOT, 'packages/core/bin/warden.js');

function chromiumPath(): string | null {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return (
        execFileSync('sh', ['-c', `command -v ${name}`])
          .toString()
          .trim() || null
      );
    } catch {
      /* next */
    }
  }
  return null;
}

function runFile(file: string, args: string[], timeout = 60000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((ok) => {
    execFile(file, args, { timeout, maxBuffer: 16 << 20 }, (e, out, err) => ok({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }));
  });
}

describe('status page and warden top', () => {
  let dir: string;
  let w: Wardend;
  let appPort: number;
  let uiPort: number;
  let pids: number[];

  beforeAll(async () => {
    dir = worldDir('warden-ui-');
    w = await startWardend([], dir);
    appPort = await freePort();
    uiPort = await freePort();
    const isolation = isRoot
      ? {
          namespaces: { credential: true, pid: true, mount: true, network: true, uname: true },
          uidmap: [{ container: 0, host: 100000, size: 65536 }],
          gidmap: [{ container: 0, host: 100000, size: 65536 }],
        }
      : undefined;
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${appPort}`]: { pass: 'applications/hello' } },
      applications: { hello: { type: 'node', working_directory: FIXTURES, script: 'hello-cjs.js', processes: 2, ...(isolation ? { isolation } : {}) } },
      settings: { metrics: { listen: `127.0.0.1:${uiPort}` } },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
    for (let i = 0; i < 20; i++) expect((await http(appPort, '/hello')).status).toBe(200);
    expect((await http(appPort, '/missing-page')).status).toBe(404);
    const overview = JSON.parse((await http(uiPort, '/ui/overview.json')).body.toString());
    pids = overview.applications[0].processes.map((p: { pid: number }) => p.pid);
  }, 60000);
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('warden top --once prints the listener, the app with its isolation and each process once', async () => {
    const r = await runFile(process.execPath, [WARDEN, '--control', `unix:${w.socket}`, 'top', '--once']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`127.0.0.1:${appPort}`);
    expect(r.out).toMatch(/^hello\s+node\s+2\s/m);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(r.out).toMatch(new RegExp(`pid ${pid}\\s`));
    if (isRoot) expect(r.out).toMatch(/ns: credential,pid,mount,network,uname; uidmap 100000->0\(65536\)/);
    // and what each process runs in, read back from /proc
    for (const pid of pids) {
      expect(r.out).toMatch(new RegExp(`pid ${pid}\\s.*runs in: ns: ${isRoot ? 'credential,mount,network,pid,uname; uidmap 100000->0\\(65536\\)' : 'none'}`));
    }
    expect(r.out.match(/wardend pid/g)).toHaveLength(1); // one frame
  });

  it('the overview reports what each app process really runs in, read from /proc: namespaces, id maps, cgroup', async () => {
    const overview = JSON.parse((await http(uiPort, '/ui/overview.json')).body.toString());
    const processes = overview.applications[0].processes as { pid: number; observed: Record<string, unknown> | null }[];
    expect(processes).toHaveLength(2);
    for (const p of processes) {
      const cgroup = /^0::(.*)$/m.exec(readFileSync(`/proc/${p.pid}/cgroup`, 'utf8'))?.[1] ?? null;
      expect(p.observed).toMatchObject(
        isRoot
          ? {
              namespaces: ['credential', 'mount', 'network', 'pid', 'uname'],
              uidmap: [{ container: 0, host: 100000, size: 65536 }],
              gidmap: [{ container: 0, host: 100000, size: 65536 }],
              cgroup,
            }
          : { namespaces: [], cgroup },
      );
    }
  });

  it('warden top refuses arguments', async () => {
    const r = await runFile(process.execPath, [WARDEN, '--control', `unix:${w.socket}`, 'top', 'extra']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/too many arguments: warden top/);
  });

  it('renders the apps, their processes and isolation in headless Chromium (screenshot kept in docs/)', async () => {
    const chromium = chromiumPath();
    if (chromium === null) {
      console.warn('skipped: chromium is not installed (scripts/setup.sh installs it)');
      return;
    }
    const url = `http://127.0.0.1:${uiPort}/ui`;
    const common = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      `--user-data-dir=${join(dir, 'chromium')}`,
      '--virtual-time-budget=5000',
    ];
    const dom = await runFile(chromium, [...common, '--dump-dom', url], 90000);
    expect(dom.out).toContain('data-loaded="1"');
    expect(dom.out).toContain(`data-listener="127.0.0.1:${appPort}"`);
    expect(dom.out).toContain('data-app="hello"');
    for (const pid of pids) expect(dom.out).toContain(`data-pid="${pid}"`);
    for (const pid of pids)
      expect(dom.out).toMatch(new RegExp(`data-observed="${pid}">pid ${pid} runs in: namespaces: ${isRoot ? 'credential, mount' : 'none'}`));
    if (isRoot) expect(dom.out).toMatch(/namespaces: credential, pid, mount, network, uname<br>uidmap: 100000→0 \(65536\)/);

    const png = join(dir, 'status-page.png');
    const shot = await runFile(chromium, [...common, '--hide-scrollbars', '--window-size=1100,520', `--screenshot=${png}`, url], 90000);
    expect(existsSync(png)).toBe(true);
    expect(statSync(png).size).toBeGreaterThan(5000);
    expect(shot.code).toBe(0);
    if (process.env.WARDEN_WRITE_DOCS === '1') copyFileSync(png, join(ROOT, 'docs/status-page.png'));
  }, 200000);
});
