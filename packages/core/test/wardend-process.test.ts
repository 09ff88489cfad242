import { defaultPaths } from '../src/daemon/daemon-options';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, watch, writeFileSync } from 'fs';
import { dirname } from 'path';
import { tmpdir } from 'os';
import { join } from 'path';
import { createServer, request } from 'http';
import { createServer as createTcpServer } from 'net';
import { IGNORED_SIGNALS, STOP_SIGNALS } from '../src/daemon/main';
import { buildCore, controlRequest, FIXTURE_PLUGIN, freePort, runWardend, spawnTextWardend, startWardend, waitForStderr } from './process-helpers';
import type { RunningWardend } from './process-helpers';

// Real wardend processes, from the built bin/wardend.js. Configs used here start no application processes
// (settings, routes with `return`), so the tests hold whatever runtime components are registered.

let dir: string;
const running: RunningWardend[] = [];
const base = () => ['--no-default-plugins', '--plugin', FIXTURE_PLUGIN, '--statedir', join(dir, 'state'), '--control', `unix:${join(dir, 'control.sock')}`];

beforeAll(() => buildCore(), 180_000);
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wardend-'));
});
afterEach(async () => {
  for (const w of running.splice(0)) {
    if (w.proc.exitCode === null && w.proc.signalCode === null) {
      w.proc.kill('SIGKILL');
      await w.exited;
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

async function start(args: string[]): Promise<RunningWardend> {
  const w = await startWardend(args);
  running.push(w);
  return w;
}

/** Resolves when `file` no longer exists (watching its directory, no polling). */
function waitUntilGone(file: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dirname(file), () => {
      if (!existsSync(file)) {
        watcher.close();
        resolve();
      }
    });
    if (!existsSync(file)) {
      watcher.close();
      resolve();
    }
  });
}

/** Resolves when `file` exists and contains `text` (watching its directory, no polling). */
function waitForLine(file: string, text: string, ms = 20000): Promise<void> {
  return new Promise((resolve, reject) => {
    const has = () => existsSync(file) && readFileSync(file, 'utf8').includes(text);
    const finish = (err?: Error) => {
      watcher.close();
      clearInterval(backstop);
      clearTimeout(limit);
      if (err) reject(err);
      else resolve();
    };
    const watcher = watch(dirname(file), () => {
      if (has()) finish();
    });
    // inotify reports the file's creation and writes; a slow backstop covers an event that raced the watch.
    const backstop = setInterval(() => {
      if (has()) finish();
    }, 500);
    // Say which line never came, and what the file holds, rather than running into the test's timeout.
    const limit = setTimeout(() => {
      const tail = existsSync(file) ? readFileSync(file, 'utf8').slice(-800) : '(no file)';
      finish(new Error(`"${text}" did not appear in ${file} within ${ms} ms; its end: ${tail}`));
    }, ms);
    if (has()) finish();
  });
}

const settings = (i: number) => ({ settings: { http: { idle_timeout: i } }, routes: [{ action: { return: 200 + (i % 100) } }] });

describe('wardend process', () => {
  it('answers the acceptance session: PUT then GET /config, pretty JSON, Content-Type, connection closed', async () => {
    const w = await start(base());
    const put = await controlRequest(w.control, 'PUT', '/config', '{"listeners":{},"applications":{}}');
    expect(put.status).toBe(200);
    expect(put.json).toEqual({ success: 'Reconfiguration done.' });
    expect(put.text).toContain('\n');
    expect(put.headers['content-type']).toBe('application/json');
    expect(put.headers.connection).toBe('close');
    const get = await controlRequest(w.control, 'GET', '/config');
    expect(get.json).toEqual({ listeners: {}, applications: {} });
  });

  it('creates the control socket with mode 0600 by default and honours --control-mode', async () => {
    const w = await start(base());
    expect(statSync(w.control.slice(5)).mode & 0o777).toBe(0o600);
    w.proc.kill('SIGTERM');
    await w.exited;
    const w2 = await start([...base(), '--control-mode', '660']);
    expect(statSync(w2.control.slice(5)).mode & 0o777).toBe(0o660);
  });

  it('stops cleanly on SIGTERM: exit 0, socket and pid file removed; the config survives the restart', async () => {
    const pid = join(dir, 'wardend.pid');
    const w = await start([...base(), '--pid', pid]);
    expect(readFileSync(pid, 'utf8').trim()).toBe(String(w.proc.pid));
    expect((await controlRequest(w.control, 'PUT', '/config', JSON.stringify(settings(7)))).status).toBe(200);
    w.proc.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(w.control.slice(5))).toBe(false);
    expect(existsSync(pid)).toBe(false);
    const w2 = await start(base());
    expect((await controlRequest(w2.control, 'GET', '/config')).json).toEqual(settings(7));
  });

  it('restarts with the old or the new config when SIGKILLed during a stream of PUTs', async () => {
    for (let round = 0; round < 4; round++) {
      const w = await start(base());
      const initial = (await controlRequest(w.control, 'GET', '/config')).json;
      const written: unknown[] = [initial];
      const acknowledged: unknown[] = [];
      const killAt = 2 + round * 4;
      // A burst of PUTs queued in the daemon; SIGKILL when the killAt-th answer arrives, while the following ones
      // are being validated, written or renamed.
      const burst = Array.from({ length: 24 }, (_, i) => {
        const cfg = settings(round * 100 + i);
        written.push(cfg);
        return controlRequest(w.control, 'PUT', '/config', JSON.stringify(cfg)).then(
          (r) => {
            if (r.status === 200) acknowledged.push(cfg);
            if (acknowledged.length === killAt) w.proc.kill('SIGKILL');
          },
          () => undefined,
        );
      });
      await Promise.all(burst);
      expect(await w.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const w2 = await start(base());
      const restored = (await controlRequest(w2.control, 'GET', '/config')).json;
      // Never a broken or mixed config: exactly one of those written...
      expect(written).toContainEqual(restored);
      // ...and an acknowledged change is durable: the restored config is not older than the first acknowledged one.
      expect(restored).not.toEqual(initial);
      expect((await controlRequest(w2.control, 'PUT', '/config', JSON.stringify(restored))).status).toBe(200);
      w2.proc.kill('SIGTERM');
      await w2.exited;
    }
  }, 60_000);

  it('serialises concurrent PUTs over the socket: none is lost', async () => {
    const w = await start(base());
    await controlRequest(w.control, 'PUT', '/config', '{"upstreams":{}}');
    const n = 25;
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        controlRequest(w.control, 'PUT', `/config/upstreams/u${i}`, JSON.stringify({ servers: { [`127.0.0.1:${8000 + i}`]: {} } })),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(n).fill(200));
    const ups = (await controlRequest(w.control, 'GET', '/config/upstreams')).json;
    expect(Object.keys(ups)).toHaveLength(n);
  });

  it('uses --config only when the state dir holds no config', async () => {
    const cfgFile = join(dir, 'initial.json');
    writeFileSync(cfgFile, '// initial\n' + JSON.stringify(settings(1)));
    const w = await start([...base(), '--config', cfgFile]);
    expect((await controlRequest(w.control, 'GET', '/config')).json).toEqual(settings(1));
    await controlRequest(w.control, 'PUT', '/config', JSON.stringify(settings(2)));
    w.proc.kill('SIGTERM');
    await w.exited;
    const w2 = await start([...base(), '--config', cfgFile]);
    expect((await controlRequest(w2.control, 'GET', '/config')).json).toEqual(settings(2));
  });

  it('refuses an invalid --config with the reason, and exits 1', async () => {
    const cfgFile = join(dir, 'bad.json');
    writeFileSync(cfgFile, JSON.stringify({ applications: { a: { type: 'fixture' } } }));
    const r = await runWardend(['--no-daemon', ...base(), '--config', cfgFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Required parameter "command" is missing.');
  });

  it('serves the control API on IP:port', async () => {
    const w = await start([...base().slice(0, -2), '--control', '127.0.0.1:0']);
    expect(w.control).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await controlRequest(w.control, 'GET', '/status')).json.requests).toEqual({ total: 0 });
  });

  it('rejects a huge body with 413 and a clear error', async () => {
    const w = await start(base());
    const big = JSON.stringify({ settings: { http: { static: { mime_types: { 'x/y': 'a'.repeat(33 * 1024 * 1024) } } } } });
    const r = await controlRequest(w.control, 'PUT', '/config', big).catch((e) => ({ status: -1, json: String(e) }));
    if (r.status !== -1) {
      expect(r.status).toBe(413);
      expect(r.json.error).toBe('Request body is too large.');
    }
    expect((await controlRequest(w.control, 'GET', '/config')).json).toEqual({});
  });

  it('--print-schema prints the assembled schema including plugin types', async () => {
    const r = await runWardend(['--print-schema', '--no-default-plugins', '--plugin', FIXTURE_PLUGIN]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(Object.keys(schema.properties).sort()).toEqual(['access_log', 'applications', 'listeners', 'routes', 'settings', 'upstreams']);
    expect(JSON.stringify(schema.$defs.application)).toContain('"fixture"');
    // The router's schema, as http-router exports it: what the router accepts is what the schema shows.
    expect(schema.$defs.listener.properties).toHaveProperty('application');
    expect(schema.$defs.settingsHttp.properties).toHaveProperty('proxy_read_timeout');
    expect(schema.properties.settings.properties.http).toEqual({ $ref: '#/$defs/settingsHttp' });
  });

  it('a --plugin that cannot be loaded is a clear error and exit 1', async () => {
    const r = await runWardend(['--no-daemon', ...base(), '--plugin', 'warden-plugin-nonexistent']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('WARDEN_ERR_PLUGIN_LOAD');
    expect(r.stderr).toContain('warden-plugin-nonexistent');
  });

  it('--version, -h, and unknown flags exit 2 as a usage error (as warden and warden-isolate do)', async () => {
    expect((await runWardend(['--version'])).stdout).toMatch(/^wardend version: \d+\.\d+\.\d+/);
    const short = await runWardend(['-h']);
    expect(short.code).toBe(0);
    expect(short.stdout).toContain('Usage: wardend');
    const bad = await runWardend(['--frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Unknown option "--frobnicate"');
  });

  it('without --no-daemon it returns once the daemon is ready, and the daemon keeps serving', async () => {
    const pid = join(dir, 'd.pid');
    const r = await runWardend([...base(), '--pid', pid]);
    expect(r.code).toBe(0);
    const daemonPid = Number(readFileSync(pid, 'utf8'));
    try {
      expect((await controlRequest(`unix:${join(dir, 'control.sock')}`, 'GET', '/config')).status).toBe(200);
      expect(existsSync(join(dir, 'state', 'wardend.log'))).toBe(true);
    } finally {
      process.kill(daemonPid, 'SIGTERM');
    }
    // The daemon removes its pid file when it has stopped.
    await waitUntilGone(pid);
    expect(existsSync(pid)).toBe(false);
  });

  it('reopens its log file on SIGUSR1 (logrotate moved it): later lines go to a new file at the same path', async () => {
    const pid = join(dir, 'd.pid');
    const log = join(dir, 'logs', 'wardend.log');
    const r = await runWardend([...base(), '--pid', pid, '--log', log]);
    expect(r.code).toBe(0);
    const daemonPid = Number(readFileSync(pid, 'utf8'));
    try {
      renameSync(log, `${log}.1`);
      const reopened = waitForLine(log, 'log files reopened');
      process.kill(daemonPid, 'SIGUSR1');
      await reopened;
      // The daemon still serves, and logs into the new file; the old one kept what it had.
      expect((await controlRequest(`unix:${join(dir, 'control.sock')}`, 'PUT', '/config/settings', JSON.stringify({ http: { idle_timeout: 7 } }))).status).toBe(
        200,
      );
      await waitForLine(log, 'configuration applied');
      expect(readFileSync(`${log}.1`, 'utf8')).toContain('wardend ready');
      expect(readFileSync(`${log}.1`, 'utf8')).not.toContain('log files reopened');
    } finally {
      process.kill(daemonPid, 'SIGTERM');
    }
    await waitUntilGone(pid);
  });

  it('without --no-daemon a start-up failure is reported by the parent', async () => {
    const r = await runWardend([...base(), '--plugin', 'warden-plugin-nonexistent']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('WARDEN_ERR_PLUGIN_LOAD');
  });
});

/** GET http://127.0.0.1:port/ → status and body. */
function httpGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('wardend signals, pid file and control socket', () => {
  const socketOf = () => join(dir, 'control.sock');

  it('stops gracefully on SIGQUIT: a request in flight is answered, then the socket and pid file are removed and it exits 0', async () => {
    const pid = join(dir, 'wardend.pid');
    // An upstream that holds the request until wardend has received SIGQUIT.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const reached = new Promise<void>((r) => (arrived = r));
    const upstream = createServer((_req, res) => {
      arrived();
      void held.then(() => res.end('late answer'));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    try {
      const port = await freePort();
      const w = await start([...base(), '--pid', pid]);
      const config = {
        listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } },
        routes: [{ action: { proxy: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` } }],
      };
      expect((await controlRequest(w.control, 'PUT', '/config', JSON.stringify(config))).status).toBe(200);
      const answer = httpGet(port);
      await reached;
      const logged = waitForStderr(w, '"signal":"SIGQUIT"');
      w.proc.kill('SIGQUIT');
      expect(JSON.parse(await logged)).toMatchObject({ msg: 'signal received', action: 'graceful shutdown' });
      release();
      expect(await answer).toEqual({ status: 200, body: 'late answer' });
      expect(await w.exited).toEqual({ code: 0, signal: null });
      expect(existsSync(socketOf())).toBe(false);
      expect(existsSync(pid)).toBe(false);
      expect(w.stderr()).toContain('"msg":"wardend stopped"');
    } finally {
      release();
      upstream.close();
    }
  }, 30_000);

  it.each(['SIGUSR2', 'SIGHUP'])('logs and ignores %s: the daemon keeps serving', async (signal) => {
    const w = await start(base());
    const logged = waitForStderr(w, `"signal":"${signal}"`);
    w.proc.kill(signal as NodeJS.Signals);
    expect(JSON.parse(await logged)).toMatchObject({ msg: 'signal received', action: 'ignored' });
    expect((await controlRequest(w.control, 'GET', '/config')).status).toBe(200);
    expect(w.proc.exitCode).toBeNull();
  });

  it('writes the pid file before the control socket appears', async () => {
    const pid = join(dir, 'wardend.pid');
    const seen: string[] = [];
    // inotify reports creations in order; a name is recorded the first time it is reported. The events may reach us
    // after the readiness line, so the watch stays until both names were reported.
    let both!: () => void;
    const bothSeen = new Promise<void>((r) => (both = r));
    const watcher = watch(dir, (_event, name) => {
      if (name && !seen.includes(name) && ['wardend.pid', 'control.sock'].includes(name)) seen.push(name);
      if (seen.length === 2) both();
    });
    try {
      await start([...base(), '--pid', pid]);
      await bothSeen;
    } finally {
      watcher.close();
    }
    expect(seen).toEqual(['wardend.pid', 'control.sock']);
  });

  it('replaces the socket and pid file a SIGKILLed wardend left behind, and says so', async () => {
    const pid = join(dir, 'wardend.pid');
    const first = await start([...base(), '--pid', pid]);
    first.proc.kill('SIGKILL');
    await first.exited;
    expect(existsSync(socketOf())).toBe(true);
    expect(readFileSync(pid, 'utf8').trim()).toBe(String(first.proc.pid));
    const second = await start([...base(), '--pid', pid]);
    expect(readFileSync(pid, 'utf8').trim()).toBe(String(second.proc.pid));
    expect(second.stderr()).toContain(`replacing the stale pid file ${pid} (process ${first.proc.pid} is gone)`);
    expect((await controlRequest(second.control, 'GET', '/config')).status).toBe(200);
  });

  it('refuses to start beside a running wardend that owns the pid file or the control socket, touching neither', async () => {
    const pid = join(dir, 'wardend.pid');
    const running = await start([...base(), '--pid', pid]);
    const samePid = await runWardend(['--no-daemon', ...base().slice(0, -2), '--control', `unix:${join(dir, 'other.sock')}`, '--pid', pid]);
    expect(samePid.code).toBe(1);
    expect(samePid.stderr).toContain(`WARDEN_ERR_PID_IN_USE: The pid file ${pid} names process ${running.proc.pid}, a wardend that is running`);
    expect(existsSync(join(dir, 'other.sock'))).toBe(false);
    const otherPid = join(dir, 'other.pid');
    const sameSocket = await runWardend(['--no-daemon', ...base(), '--pid', otherPid]);
    expect(sameSocket.code).toBe(1);
    expect(sameSocket.stderr).toContain('WARDEN_ERR_CONTROL_IN_USE');
    expect(existsSync(otherPid)).toBe(false);
    // The running one is untouched.
    expect(readFileSync(pid, 'utf8').trim()).toBe(String(running.proc.pid));
    expect((await controlRequest(running.control, 'GET', '/config')).status).toBe(200);
  });

  it('moves a truncated conf.json aside at start, logs the path, and restores the last good config', async () => {
    const w = await start(base());
    expect((await controlRequest(w.control, 'PUT', '/config', JSON.stringify(settings(5)))).status).toBe(200);
    w.proc.kill('SIGTERM');
    await w.exited;
    const conf = join(dir, 'state', 'conf.json');
    writeFileSync(conf, readFileSync(conf).subarray(0, 10));
    const w2 = await start(base());
    expect((await controlRequest(w2.control, 'GET', '/config')).json).toEqual(settings(5));
    const line = JSON.parse(await waitForStderr(w2, 'is corrupt'));
    expect(line.movedTo).toMatch(/conf\.json\.corrupt-\d{8}T\d{6}Z$/);
    expect(line.msg).toContain(line.movedTo);
    expect(readFileSync(line.movedTo)).toHaveLength(10);
  });
});

/** Unit's error-log line: `YYYY/MM/DD HH:MM:SS [level] pid#tid message`. */
const UNIT_LINE = /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} \[(alert|error|warn|notice|info|debug)\] (\d+)#\2 \S/;

describe('wardend log formats', () => {
  it("--log-format unit writes Unit's error-log lines with Unit's messages: start, a failed reconfiguration, a signal", async () => {
    const busy = createTcpServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const w = spawnTextWardend([...base(), '--log-format', 'unit']);
    try {
      await w.waitFor('wardend ready');
      const pid = w.proc.pid!;
      const port = (busy.address() as { port: number }).port;
      const cfg = { listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } }, routes: [{ action: { return: 204 } }] };
      expect((await controlRequest(`unix:${join(dir, 'control.sock')}`, 'PUT', '/config', JSON.stringify(cfg))).status).toBe(500);
      w.proc.kill('SIGQUIT');
      expect(await w.exited).toEqual({ code: 0, signal: null });
      const lines = w.output().trimEnd().split('\n');
      for (const line of lines) expect(line).toMatch(UNIT_LINE);
      const messages = lines.map((l) => l.slice(20));
      expect(messages).toContain(`[info] ${pid}#${pid} router started`);
      expect(messages).toContain(`[info] ${pid}#${pid} controller started`);
      expect(messages.some((m) => m.startsWith(`[alert] ${pid}#${pid} failed to apply new conf`))).toBe(true);
      expect(messages).toContain(`[notice] ${pid}#${pid} signal 3 (SIGQUIT) received, graceful shutdown`);
    } finally {
      w.proc.kill('SIGKILL');
      busy.close();
    }
  }, 30_000);

  it.each([
    ['no --log-format', 'unit', []],
    ['--log-format json', 'json', ['--log-format', 'json']],
  ])(
    'on a terminal with %s the log is %s lines',
    async (_name, expected, extra) => {
      const pid = join(dir, 'tty.pid');
      const w = spawnTextWardend([...base(), '--pid', pid, ...extra], true);
      try {
        await w.waitFor('wardend ready');
        process.kill(Number(readFileSync(pid, 'utf8')), 'SIGTERM');
        await w.exited;
      } finally {
        w.proc.kill('SIGKILL');
      }
      const lines = w
        .output()
        .split(/\r?\n/)
        .filter((l) => l.includes('wardend'));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expected === 'unit' ? expect(line).toMatch(UNIT_LINE) : expect(JSON.parse(line)).toHaveProperty('msg');
    },
    30_000,
  );

  it('piped, the default log is JSON lines', async () => {
    const w = await start(base());
    for (const line of w.stderr().trimEnd().split('\n')) expect(JSON.parse(line)).toHaveProperty('level');
  });

  it('wardend --help documents every signal it handles and the log formats', async () => {
    const r = await runWardend(['--help']);
    expect(r.code).toBe(0);
    for (const signal of [...STOP_SIGNALS, ...IGNORED_SIGNALS, 'SIGUSR1']) expect(r.stdout).toContain(signal);
    expect(r.stdout).toContain('--log-format');
    // The defaults that apply: control socket, state dir, and where the log goes when daemonised.
    const d = defaultPaths(process.env);
    expect(r.stdout).toContain(`(default: ${d.control})`);
    expect(r.stdout).toContain(`(default: ${d.statedir})`);
    expect(r.stdout).toContain('<statedir>/wardend.log when daemonised');
  });

  it('refuses an unknown --log-format', async () => {
    const r = await runWardend(['--log-format', 'xml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--log-format "xml" is not one of auto, json, unit.');
  });
});
