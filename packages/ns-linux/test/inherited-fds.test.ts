import { spawn } from 'child_process';
import { chmodSync, closeSync, copyFileSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import { createServer, type Server } from 'net';
import * as path from 'path';
import { buildCli, cleanup, describeRoot, ISOLATE_BIN, ProbeReport, setupNative } from './helpers';

/** The fd numbers the leaked directory, file and socket get in warden-isolate (high: Node marks fds < 20 CLOEXEC). */
const LEAK_FDS = [70, 71, 72];

/** "DEV:INO" of what an fd refers to, as the probe reports it. */
const identity = (st: { dev: number; ino: number }) => `${st.dev}:${st.ino}`;

/** Host pids of every process below `pid` (from the ppid field of /proc/N/stat). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

/** The identities of every fd a process holds (seen from the host, as root). */
function heldIdentities(pid: number): string[] {
  const ids: string[] = [];
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        ids.push(identity(statSync(`/proc/${pid}/fd/${fd}`)));
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    /* exited */
  }
  return ids;
}

describeRoot('fds inherited by the launcher never reach the sandbox (requires root)', () => {
  let dir: string;
  let probe: string;
  let rootfs: string;
  let server: Server;
  let leaked: number[];
  let leakedIds: string[];

  beforeAll(async () => {
    ({ dir, probe } = setupNative());
    buildCli();
    rootfs = path.join(dir, 'rootfs');
    mkdirSync(rootfs, { mode: 0o755 });
    copyFileSync(probe, path.join(rootfs, 'probe'));
    chmodSync(path.join(rootfs, 'probe'), 0o755);
    const secret = path.join(dir, 'secret');
    writeFileSync(secret, 'host file\n');
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socketFd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    // What `exec 70</dir 71<file` and an open socket in the launching shell leave to warden-isolate.
    leaked = [openSync('/etc', 'r'), openSync(secret, 'r'), socketFd];
    leakedIds = leaked.map((fd) => identity(fstatSync(fd)));
  });
  afterAll(() => {
    for (const fd of leaked.slice(0, 2)) closeSync(fd);
    server.close();
    cleanup(dir);
  });

  /**
   * Runs warden-isolate with the leaked fds at LEAK_FDS and `probe allfds`; while the probe waits on stdin, collects
   * what every process under warden-isolate (helper, prototype, app) holds.
   */
  async function run(isolation: object, command: string, env: Record<string, string> = {}) {
    const stdio: (number | 'pipe' | 'ignore')[] = ['pipe', 'pipe', 'pipe'];
    LEAK_FDS.forEach((n, i) => (stdio[n] = leaked[i]));
    for (let i = 3; i < stdio.length; i++) stdio[i] ??= 'ignore';
    const child = spawn(process.execPath, [ISOLATE_BIN, '--isolation', JSON.stringify(isolation), '--', command, 'allfds'], {
      stdio,
      env: { ...process.env, ...env },
    });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const line = await new Promise<string>((ok, fail) => {
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) ok(out.slice(0, out.indexOf('\n')));
      });
      child.once('exit', (code) => fail(new Error(`warden-isolate exited ${code} before reporting: ${err}`)));
    });
    const below = descendants(child.pid!);
    const held = below.map((pid) => ({ pid, ids: heldIdentities(pid) }));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.stdin!.end();
    expect(await exited).toBe(0);
    return { report: JSON.parse(line) as ProbeReport & { allfds: Record<string, string> }, below, held };
  }

  const modes: [string, () => { isolation: object; command: string }][] = [
    ['no namespaces', () => ({ isolation: {}, command: probe })],
    ['namespaces', () => ({ isolation: { namespaces: { pid: true, mount: true, network: true, uname: true, ipc: true } }, command: probe })],
    ['a rootfs', () => ({ isolation: { namespaces: { pid: true, mount: true }, rootfs }, command: '/probe' })],
  ];

  it.each(modes)('with %s the command holds only fds 0-2 and the helper and prototype hold none of the leaked ones', async (_name, mode) => {
    const { isolation, command } = mode();
    const { report, below, held } = await run(isolation, command);
    expect(Object.keys(report.allfds)).toEqual(['0', '1', '2']);
    expect(below.length).toBeGreaterThanOrEqual(3); // helper, prototype, app
    for (const { pid, ids } of held) expect([pid, ids.filter((id) => leakedIds.includes(id))]).toEqual([pid, []]);
  });

  it.each(['proc', 'rlimit'])('closes them the same way with the %s fallback of kernels without close_range', async (sweep) => {
    const { report, held } = await run({ namespaces: { pid: true, mount: true }, rootfs }, '/probe', { WARDEN_SPAWN_FD_SWEEP: sweep });
    expect(Object.keys(report.allfds)).toEqual(['0', '1', '2']);
    for (const { pid, ids } of held) expect([pid, ids.filter((id) => leakedIds.includes(id))]).toEqual([pid, []]);
  });
});
