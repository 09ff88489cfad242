import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Socket } from 'net';
import { spawnProcess, type SpawnOptions } from '../src';

const isRoot = process.getuid?.() === 0;
const SH = '/bin/sh';

/** Everything a stream gives until its end. */
function readAll(s: Socket | null): Promise<string> {
  if (s === null) return Promise.resolve('');
  let out = '';
  s.setEncoding('utf8');
  s.on('data', (c: string) => (out += c));
  return new Promise((resolve) => s.on('end', () => resolve(out)));
}

/** Runs `script` with sh; resolves with its stdout, stderr and exit. */
async function sh(script: string, opts: Partial<SpawnOptions> = {}) {
  const p = spawnProcess({ file: SH, argv: ['sh', '-c', script], env: { PATH: '/usr/bin:/bin' }, stdout: 'pipe', stderr: 'pipe', ...opts });
  const [out, err, exit] = await Promise.all([readAll(p.stdout), readAll(p.stderr), p.exited]);
  return { out, err, exit, pid: p.pid };
}

describe('spawnProcess (clone(CLONE_VM | CLONE_VFORK) + exec)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-spawn-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the program with its argv, env and working directory and reports the exit code', async () => {
    const r = await sh('echo "$0 $1 $FOO"; pwd; echo oops >&2; exit 7', {
      argv: ['sh', '-c', 'echo "$0 $1 $FOO"; pwd; echo oops >&2; exit 7', 'zero', 'one'],
      env: { FOO: 'bar' },
      cwd: dir,
    });
    expect(r.out).toBe(`zero one bar\n${fs.realpathSync(dir)}\n`);
    expect(r.err).toBe('oops\n');
    expect(r.exit).toEqual({ code: 7, signal: null });
    expect(r.pid).toBeGreaterThan(0);
  });

  it('finds a bare name in the PATH of env, as execvp does', async () => {
    const p = spawnProcess({ file: 'true', argv: ['true'], env: { PATH: `${dir}:/usr/bin:/bin` }, stdout: 'pipe', stderr: 'pipe' });
    expect(await p.exited).toEqual({ code: 0, signal: null });
  });

  it('runs a file without a #! line with /bin/sh and its arguments, as execvp (and child_process) did', async () => {
    const script = path.join(dir, 'no-shebang');
    fs.writeFileSync(script, 'echo "args: $*"\nexit 3\n');
    fs.chmodSync(script, 0o755);
    const p = spawnProcess({ file: script, argv: ['no-shebang', 'a', 'b'], env: {}, stdout: 'pipe', stderr: 'pipe' });
    const [out, exit] = await Promise.all([readAll(p.stdout), p.exited]);
    expect(out).toBe('args: a b\n');
    expect(exit).toEqual({ code: 3, signal: null });
  });

  it('reports a kill by its signal name', async () => {
    const p = spawnProcess({ file: '/bin/sleep', argv: ['sleep', '30'], env: {}, stdout: 'pipe', stderr: 'pipe' });
    process.kill(p.pid, 'SIGTERM');
    expect(await p.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('throws like child_process for a missing or non-executable file and a missing working directory', () => {
    const base = { argv: ['x'], env: {}, stdout: 'pipe' as const, stderr: 'pipe' as const };
    expect(() => spawnProcess({ ...base, file: path.join(dir, 'missing') })).toThrow(
      expect.objectContaining({ code: 'ENOENT', errno: -2, syscall: 'execve', message: `spawn ${path.join(dir, 'missing')} ENOENT` }),
    );
    expect(() => spawnProcess({ ...base, file: 'no-such-command-here', env: { PATH: dir } })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const plain = path.join(dir, 'plain.txt');
    fs.writeFileSync(plain, 'not a program');
    fs.chmodSync(plain, 0o644);
    expect(() => spawnProcess({ ...base, file: plain })).toThrow(expect.objectContaining({ code: 'EACCES' }));
    expect(() => spawnProcess({ ...base, file: '/bin/true', cwd: path.join(dir, 'nowhere') })).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'chdir' }),
    );
  });

  it('gives the child only fds 0-2 and the inherited ones, in order, with stdin on /dev/null', async () => {
    const a = fs.openSync(path.join(dir, 'a'), 'w');
    const b = fs.openSync(path.join(dir, 'b'), 'w');
    // Fds of this process without close-on-exec would reach any child (child_process's too): allowed.
    const inheritable = new Set(
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return (parseInt(/flags:\s+([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8) & 0o2000000) === 0;
        } catch {
          return false;
        }
      }),
    );
    try {
      // b, then a: fds[i] lands at 3 + i. ls lists the shell's fds from its own process, and no pipeline: a shell
      // holds a pipe's read end until it has forked the pipeline's last command, which ls could list.
      const r = await sh('ls -l /proc/$$/fd; exit 0', { fds: [b, a] });
      const fds = new Map(
        r.out
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => {
            const f = l.trim().split(/\s+/);
            return [f[8], f[10]] as [string, string];
          }),
      );
      expect(fds.get('0')).toBe('/dev/null');
      expect(fds.get('3')).toBe(path.join(dir, 'b'));
      expect(fds.get('4')).toBe(path.join(dir, 'a'));
      expect([...fds.keys()].filter((k) => !['0', '1', '2', '3', '4'].includes(k) && !inheritable.has(k))).toEqual([]);
    } finally {
      fs.closeSync(a);
      fs.closeSync(b);
    }
  });

  it('reads stdin from the fd given (a terminal or pipe the caller shares)', async () => {
    const file = path.join(dir, 'stdin.txt');
    fs.writeFileSync(file, 'from the caller\n');
    const fd = fs.openSync(file, 'r');
    try {
      const r = await sh('cat', { stdin: fd });
      expect(r.out).toBe('from the caller\n');
    } finally {
      fs.closeSync(fd);
    }
    expect((await sh('cat')).out).toBe(''); // /dev/null without one
  });

  it('moves a source fd out of the way when it sits where another fd must go', async () => {
    // In a process whose stdin is closed, a file opened for the app's stdout gets fd 0, which is where /dev/null
    // must go: it has to be moved before fd 0 is replaced. Run in a child node process (jest's fd 0 stays).
    const out = path.join(dir, 'low-fd-out');
    const script = `
      const fs = require('fs');
      const { spawnProcess } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      fs.closeSync(0);
      const fd = fs.openSync(${JSON.stringify(out)}, 'w');
      if (fd !== 0) throw new Error('expected fd 0, got ' + fd);
      const p = spawnProcess({ file: '/bin/sh', argv: ['sh', '-c', 'readlink /proc/$$/fd/0; echo to-out'], env: {}, stdout: fd, stderr: 2 });
      p.exited.then((e) => process.stdout.write(JSON.stringify(e)));
    `;
    const { execFileSync } = await import('child_process');
    const res = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(JSON.parse(res)).toEqual({ code: 0, signal: null });
    expect(fs.readFileSync(out, 'utf8')).toBe('/dev/null\nto-out\n');
  });

  it('resets signal dispositions and the mask (Node ignores SIGPIPE; the app must not inherit that)', async () => {
    const r = await sh('grep -E "^Sig(Ign|Blk)" /proc/self/status');
    expect(r.out).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('starts a session of its own with setsid, and stays in ours without', async () => {
    const sid = (out: string) => Number(out.trim().split(' ')[5]);
    const own = await sh('cat /proc/self/stat', { setsid: true });
    expect(sid(own.out)).toBe(own.pid);
    const ours = await sh('cat /proc/self/stat');
    expect(sid(ours.out)).toBe(Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[3]));
  });

  (isRoot ? it : it.skip)('switches to uid and gid and drops supplementary groups (root only)', async () => {
    const r = await sh('id -u; id -g; id -G', { uid: 65534, gid: 65534 });
    expect(r.out).toBe('65534\n65534\n65534\n');
  });

  (isRoot ? it : it.skip)("sets the supplementary groups given with the uid, as Unit gives an app its user's groups (root only)", async () => {
    const r = await sh('id -G', { uid: 65534, gid: 65534, groups: [65534, 4, 24] });
    expect(
      r.out
        .trim()
        .split(' ')
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([4, 24, 65534]);
  });

  it('reaps the process: no zombie is left once `exited` resolved', async () => {
    const r = await sh('exit 0');
    expect(fs.existsSync(`/proc/${r.pid}`)).toBe(false);
  });
});
