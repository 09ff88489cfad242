import { spawnSync } from 'child_process';
import { existsSync, writeFileSync } from 'fs';
import * as path from 'path';
import { describeRoot, ISOLATE_BIN as BIN, isolate, nativeFixture, ProbeReport } from './helpers';

describeRoot('warden-isolate (requires root)', () => {
  const native = nativeFixture({ cli: true });

  it('runs the command in the namespaces with stdio attached', () => {
    const r = isolate(['--isolation', JSON.stringify({ namespaces: { pid: true, network: true, uname: true }, hostname: 'cli' }), '--', native.probe]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as ProbeReport;
    expect([report.pid, report.hostname, report.interfaces, report.uid]).toEqual([2, 'cli', ['lo'], 65534]);
  });

  it('passes stdin through and exits with the command status', () => {
    const r = isolate(['--isolation', '{"namespaces":{"pid":true}}', '--', 'sh', '-c', 'read x; echo "got $x"; exit 3'], 'hello\n');
    expect(r.stdout).toBe('got hello\n');
    expect(r.status).toBe(3);
  });

  it('runs as root inside a credential namespace with --user root and maps', () => {
    const map = [{ container: 0, host: 1000, size: 1000 }];
    const r = isolate(['--user', 'root', '--isolation', JSON.stringify({ namespaces: { credential: true }, uidmap: map, gidmap: map }), '--', native.probe]);
    const report = JSON.parse(r.stdout) as ProbeReport;
    expect([report.uid, report.gid]).toEqual([0, 0]);
  });

  it('reports a signal as 128+N', () => {
    const r = isolate(['--isolation', '{"namespaces":{"pid":true}}', '--', 'sh', '-c', 'kill -TERM $$']);
    expect(r.status).toBe(128 + 15);
  });

  it("fails with 125 and Unit's message on an invalid isolation object", () => {
    const r = isolate(['--isolation', '{"uidmap":[{"container":0,"host":0,"size":1}]}', '--', 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr).toContain('"uidmap" is set but "isolation.namespaces.credential" is false or unset.');
    const u = isolate(['--isolation', '{"namespaces":{"bogus":true}}', '--', 'true']);
    expect(u.stderr).toContain('Unknown parameter "bogus".');
  });

  it.each([
    ['"yes"', 'a string'],
    ['1', 'an integer number'],
    ['"false"', 'a string'],
  ])("refuses the namespace value %s with wardend's message and runs nothing (exit 125)", (value, type) => {
    const r = isolate(['--isolation', `{"namespaces":{"pid":${value}}}`, '--', 'sh', '-c', 'echo ran $$']);
    expect([r.status, r.stdout]).toEqual([125, '']);
    expect(r.stderr).toBe(`warden-isolate: The "pid" value must be a boolean, but not ${type}. [WARDEN_ERR_CONFIG_TYPE at --isolation /namespaces/pid]\n`);
  });

  it('exits 127 naming the step when the command is not found', () => {
    const r = isolate(['--isolation', '{"namespaces":{"pid":true}}', '--', '/nonexistent/cmd']);
    expect(r.status).toBe(127);
    expect(r.stderr).toMatch(/execve failed: No such file or directory.*step=execve errno=2/);
    expect(isolate(['--isolation', '{}', '--', 'no-such-command-on-path']).status).toBe(127);
  });

  it('exits 126 when the command exists but cannot be run', () => {
    const notExecutable = path.join(native.dir, 'not-executable');
    writeFileSync(notExecutable, '#!/bin/sh\necho ran\n', { mode: 0o644 });
    const r = isolate(['--isolation', '{}', '--', notExecutable]);
    expect([r.status, r.stdout]).toEqual([126, '']);
    expect(r.stderr).toMatch(/execve failed: Permission denied.*step=execve errno=13/);
    expect(isolate(['--isolation', '{}', '--', native.dir]).status).toBe(126);
  });

  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));
  (setpriv ? it : it.skip)('works for an unprivileged caller: its own uid mapped, setgroups denied (run as nobody)', () => {
    const asNobody = (args: string[]) =>
      spawnSync(setpriv!, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], { encoding: 'utf8', timeout: 20000 });
    const plain = asNobody(['--isolation', '{"namespaces":{"credential":true,"pid":true,"network":true}}', '--', native.probe]);
    expect(plain.stderr).toBe('');
    const r1 = JSON.parse(plain.stdout) as ProbeReport;
    expect([r1.uid, r1.pid, r1.interfaces]).toEqual([65534, 2, ['lo']]);
    const map = [{ container: 0, host: 65534, size: 1 }];
    const root = asNobody([
      '--user',
      'root',
      '--isolation',
      JSON.stringify({ namespaces: { credential: true }, uidmap: map, gidmap: map }),
      '--',
      native.probe,
    ]);
    expect((JSON.parse(root.stdout) as ProbeReport).uid).toBe(0);
    const wrong = asNobody([
      '--isolation',
      JSON.stringify({ namespaces: { credential: true }, uidmap: [{ container: 0, host: 0, size: 1 }] }),
      '--',
      native.probe,
    ]);
    expect(wrong.status).toBe(125);
    expect(wrong.stderr).toContain('"uidmap" field has an entry for host uid 0 but unprivileged unit can only map itself (uid 65534)');
    // Issue 13.6: --user root without a credential namespace would silently run as the caller; refused, nothing runs.
    const silent = asNobody(['--user', 'root', '--isolation', '{"namespaces":{"pid":true}}', '--', native.probe]);
    expect([silent.status, silent.stdout]).toEqual([125, '']);
    expect(silent.stderr).toContain('The "user" value "root" (uid 0) cannot be used: wardend runs unprivileged (uid 65534, gid 65534)');
    expect(silent.stderr).toContain('[WARDEN_ERR_CREDENTIALS_UNPRIVILEGED at --user]');
  });

  it('fails with 2 on usage errors', () => {
    expect(isolate(['--', 'true']).status).toBe(2);
    expect(isolate(['--isolation', '{', '--', 'true']).stderr).toContain('not valid JSON');
    expect(isolate(['--isolation', '{}']).stderr).toContain('no COMMAND');
  });
});
