import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';
import { cleanup, describeRoot, ProbeReport, setupNative } from './helpers';

const PKG = path.resolve(__dirname, '..');
const BIN = path.join(PKG, 'bin/warden-isolate.js');

function isolate(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, timeout: 20000 });
}

describeRoot('warden-isolate (requires root)', () => {
  let dir: string;
  let probe: string;
  beforeAll(() => {
    ({ dir, probe } = setupNative());
    // The CLI runs from dist/, like an installed package.
    execFileSync(path.resolve(PKG, '../../node_modules/.bin/tsc'), ['-b', PKG], { stdio: 'inherit' });
  });
  afterAll(() => cleanup(dir));

  it('runs the command in the namespaces with stdio attached', () => {
    const r = isolate(['--isolation', JSON.stringify({ namespaces: { pid: true, network: true, uname: true }, hostname: 'cli' }),
      '--', probe]);
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
    const r = isolate(['--user', 'root', '--isolation', JSON.stringify({ namespaces: { credential: true }, uidmap: map, gidmap: map }),
      '--', probe]);
    const report = JSON.parse(r.stdout) as ProbeReport;
    expect([report.uid, report.gid]).toEqual([0, 0]);
  });

  it('reports a signal as 128+N', () => {
    const r = isolate(['--isolation', '{"namespaces":{"pid":true}}', '--', 'sh', '-c', 'kill -TERM $$']);
    expect(r.status).toBe(128 + 15);
  });

  it('fails with 125 and Unit\'s message on an invalid isolation object', () => {
    const r = isolate(['--isolation', '{"uidmap":[{"container":0,"host":0,"size":1}]}', '--', 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr).toContain('"uidmap" is set but "isolation.namespaces.credential" is false or unset.');
    const u = isolate(['--isolation', '{"namespaces":{"bogus":true}}', '--', 'true']);
    expect(u.stderr).toContain('Unknown parameter "bogus".');
  });

  it('fails with 125 naming the step when the command cannot be executed', () => {
    const r = isolate(['--isolation', '{"namespaces":{"pid":true}}', '--', '/nonexistent/cmd']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/execve failed: No such file or directory.*step=execve errno=2/);
  });

  it('fails with 2 on usage errors', () => {
    expect(isolate(['--', 'true']).status).toBe(2);
    expect(isolate(['--isolation', '{', '--', 'true']).stderr).toContain('not valid JSON');
    expect(isolate(['--isolation', '{}']).stderr).toContain('no COMMAND');
  });
});
