import { unitLogLine } from '../src/daemon/unit-log-format';
import { resolveLogFormat } from '../src/daemon/logger';

// Records as pino writes them (bindings of child loggers included), turned into Unit's error-log lines.

const time = new Date(2026, 11, 6, 7, 5, 9).getTime(); // local time, as Unit logs
const at = (rec: Record<string, unknown>) => unitLogLine({ level: 30, time, pid: 4321, ...rec } as never);

describe("Unit's error-log line format (--log-format unit)", () => {
  it('writes YYYY/MM/DD HH:MM:SS [level] pid#tid message, one line', () => {
    expect(at({ msg: 'controller started', control: 'unix:/x.sock' })).toBe('2026/12/06 07:05:09 [info] 4321#4321 controller started\n');
    expect(at({ msg: 'router started' })).toBe('2026/12/06 07:05:09 [info] 4321#4321 router started\n');
  });

  it("maps pino's levels to Unit's: debug, info, warn, error, alert", () => {
    expect([10, 20, 30, 40, 50, 60].map((level) => /\[(\w+)\]/.exec(at({ level, msg: 'x' }))![1])).toEqual([
      'debug',
      'debug',
      'info',
      'warn',
      'error',
      'alert',
    ]);
  });

  it("writes a record that names Unit's level (unitLevel, as log_route lines do) at that level, without the field", () => {
    expect(at({ msg: '"routes/0" selected', unitLevel: 'notice', route: 'routes', step: 0 })).toBe(
      '2026/12/06 07:05:09 [notice] 4321#4321 "routes/0" selected route=routes step=0\n',
    );
    expect(at({ level: 40, msg: 'x', unitLevel: 'bogus' })).toBe('2026/12/06 07:05:09 [warn] 4321#4321 x\n');
  });

  it("logs an app process start with Unit's wording and the app process's own pid", () => {
    expect(at({ app: 'go-app', msg: 'app process started', app_pid: 777 })).toBe('2026/12/06 07:05:09 [info] 777#777 "go-app" application started\n');
  });

  it('logs app process exits as Unit: code at notice, signal (by number) at alert', () => {
    expect(at({ app: 'a', level: 50, msg: 'app process exited unexpectedly (code 3)', app_pid: 9, code: 3, signal: null })).toBe(
      '2026/12/06 07:05:09 [notice] 4321#4321 process 9 exited with code 3\n',
    );
    expect(at({ app: 'a', msg: 'app process exited', app_pid: 9, code: null, signal: 'SIGKILL' })).toBe(
      '2026/12/06 07:05:09 [alert] 4321#4321 process 9 exited on signal 9\n',
    );
  });

  it('logs a failed reconfiguration as "failed to apply new conf" at alert, with the reason', () => {
    expect(at({ level: 40, msg: 'configuration change failed; rolling back', err: { type: 'ApplyError', message: 'port 80 in use' } })).toBe(
      '2026/12/06 07:05:09 [alert] 4321#4321 failed to apply new conf: port 80 in use\n',
    );
  });

  it('logs signals as Unit does', () => {
    expect(at({ msg: 'signal received', signal: 'SIGHUP', action: 'ignored' })).toContain('[notice] 4321#4321 signal signo:1 (SIGHUP) received, ignored');
    expect(at({ msg: 'signal received', signal: 'SIGUSR1', action: 'log files rotation' })).toContain('signal 10 (SIGUSR1) received, log files rotation');
    expect(at({ msg: 'signal received', signal: 'SIGQUIT', action: 'graceful shutdown' })).toContain('signal 3 (SIGQUIT) received, graceful shutdown');
  });

  it('logs a corrupt or rejected saved config with Unit\'s "restore previous configuration" wording and the paths', () => {
    expect(
      at({ level: 50, msg: 'x', file: '/s/conf.json', movedTo: '/s/conf.json.corrupt-1', reason: 'Unexpected end', lastGood: '/s/conf.json.last-good' }),
    ).toContain(
      '[alert] 4321#4321 failed to restore previous configuration: file is corrupted (Unexpected end); moved /s/conf.json to /s/conf.json.corrupt-1; restoring the last good copy /s/conf.json.last-good',
    );
    expect(
      at({
        level: 50,
        msg: 'the saved configuration /s/conf.json was not accepted; starting empty',
        reason: { error: 'Invalid configuration.', detail: 'Unknown parameter "x".' },
        keptAs: '/k',
      }),
    ).toContain('[alert] 4321#4321 the previous configuration is invalid: Invalid configuration. Unknown parameter "x". (a copy is kept as /k)');
  });

  it('keeps the app name once on app output lines', () => {
    expect(at({ app: 'web', stream: 'stdout', msg: 'listening' })).toBe('2026/12/06 07:05:09 [info] 4321#4321 "web" stdout: listening\n');
    expect(at({ level: 40, app: 'web', stream: 'stderr', msg: 'oops' })).toBe('2026/12/06 07:05:09 [warn] 4321#4321 "web" stderr: oops\n');
  });

  it("writes other records as Warden's message with key=value fields, errors by their message, on one line", () => {
    expect(at({ msg: 'wardend ready', control: 'unix:/run/w.sock', statedir: '/var/lib/warden' })).toBe(
      '2026/12/06 07:05:09 [info] 4321#4321 wardend ready control=unix:/run/w.sock statedir=/var/lib/warden\n',
    );
    expect(at({ level: 50, component: 'controller', msg: 'rollback failed\nsecond line', err: { message: 'boom', code: 'EIO' }, note: 'a b' })).toBe(
      '2026/12/06 07:05:09 [error] 4321#4321 rollback failed\\nsecond line err="EIO: boom" note="a b"\n',
    );
  });

  it('auto is unit on a terminal and json otherwise; an explicit format wins', () => {
    expect(resolveLogFormat('auto', true)).toBe('unit');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('unit', false)).toBe('unit');
  });
});
