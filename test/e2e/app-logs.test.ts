import { copyFileSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

// How wardend logs its apps: their stdout/stderr lines (the app name once, the same level with or without isolation)
// and, in Unit's log format, their start and exit with Unit's wording.

if (!isRoot) console.warn('app-logs e2e: the isolated app is left out: isolation (a pid namespace) requires root');

const CHATTY = join(ROOT, 'test/e2e/apps/chatty/chatty.js');

/** The chatty app, optionally in a pid and mount namespace; `root` because the checkout may not be readable by nobody. */
const chatty = (dir: string, isolated: boolean) => ({
  type: 'node',
  working_directory: dir,
  script: 'chatty.js',
  user: 'root',
  ...(isolated ? { isolation: { namespaces: { pid: true, mount: true } } } : {}),
});

describe('app output and app processes in the log', () => {
  let dir: string;
  let w: Wardend | undefined;
  beforeEach(() => {
    dir = worldDir('warden-applog-');
    copyFileSync(CHATTY, join(dir, 'chatty.js'));
  });
  afterEach(async () => {
    await w?.stop();
    w = undefined;
    cleanup(dir);
  });

  it('logs app stdout at info and stderr at warn, isolated or not, with the app name once per line (JSON)', async () => {
    w = await startWardend([], dir);
    const apps = isRoot ? ['plain', 'isolated'] : ['plain'];
    const ports: Record<string, number> = {};
    for (const a of apps) ports[a] = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: Object.fromEntries(apps.map((a) => [`127.0.0.1:${ports[a]}`, { pass: `applications/${a}` }])),
      applications: Object.fromEntries(apps.map((a) => [a, chatty(dir, a === 'isolated')])),
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
    for (const a of apps) {
      expect((await http(ports[a], '/hello')).status).toBe(200);
      await w.waitForLog(new RegExp(`"app":"${a}".*chatty stderr /hello|chatty stderr /hello.*"app":"${a}"`));
    }
    const records = w
      .log()
      .split('\n')
      .filter((l) => l.includes('chatty '))
      .map((line) => ({ line, rec: JSON.parse(line) }));
    for (const a of apps) {
      const mine = records.filter(({ rec }) => rec.app === a);
      expect(mine.map(({ rec }) => [rec.stream, rec.level, rec.msg])).toEqual(
        expect.arrayContaining([
          ['stdout', 30, 'chatty stdout /hello'],
          ['stderr', 40, 'chatty stderr /hello'],
        ]),
      );
      for (const { line } of mine) expect(line.match(/"app":/g)).toHaveLength(1);
    }
  }, 60_000);

  it("in Unit's format logs an app process start and its death with Unit's wording and pids", async () => {
    w = await startWardend(['--log-format', 'unit'], dir);
    const port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/plain' } },
      applications: { plain: chatty(dir, false) },
    });
    expect(res.status).toBe(200);
    const started = await w.waitForLog(/\[info\] (\d+)#\1 "plain" application started$/);
    const appPid = Number(/\[info\] (\d+)#/.exec(started)![1]);
    expect(appPid).not.toBe(w.proc.pid);
    process.kill(appPid, 'SIGKILL');
    await w.waitForLog(new RegExp(`\\[alert\\] ${w.proc.pid}#${w.proc.pid} process ${appPid} exited on signal 9$`));
    expect(w.log()).toMatch(/\[info\] \d+#\d+ "plain" stdout: chatty stdout at start/);
    expect(w.log()).toMatch(/\[warn\] \d+#\d+ "plain" stderr: chatty stderr at start/);
  }, 60_000);
});
