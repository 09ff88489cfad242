// readProcessIsolation reads what a process really runs in from /proc/<pid> (namespaces compared with ours, id maps,
// cgroup), which the overview (/ui/overview.json, the status page, `warden top`) reports for each app process.
import { spawn, spawnSync } from 'child_process';
import type { ChildProcess } from 'child_process';
import { readFileSync, readlinkSync } from 'fs';
import { parseCgroupPath, parseIdMap, readProcessIsolation } from '../src/runtime/process-isolation';

const isRoot = process.geteuid?.() === 0;
const hasUnshare = spawnSync('unshare', ['--version']).status === 0;

/** Starts `unshare FLAGS -- sleep 60` and resolves once the sleep runs in a user namespace other than ours. */
async function unshared(flags: string[]): Promise<ChildProcess> {
  const child = spawn('unshare', [...flags, '--', 'sleep', '60'], { stdio: 'ignore' });
  const ours = readlinkSync('/proc/self/ns/uts');
  for (;;) {
    if (child.exitCode !== null) throw new Error(`unshare ${flags.join(' ')} exited ${child.exitCode}`);
    try {
      // Once it runs `sleep`, unshare has made the namespaces and written the id maps (before that, the maps of a
      // new user namespace may still be empty).
      if (readlinkSync(`/proc/${child.pid}/ns/uts`) !== ours && readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'sleep') return child;
    } catch {
      /* not yet there */
    }
    await new Promise((r) => setImmediate(r));
  }
}

describe('readProcessIsolation', () => {
  it('finds no namespace of its own, identity id maps and our own cgroup for a plain child process', async () => {
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const seen = readProcessIsolation(child.pid!);
      const ours = readProcessIsolation(process.pid);
      expect(seen).not.toBeNull();
      expect(seen!.namespaces).toEqual([]);
      expect(seen!.uidmap).toEqual(ours!.uidmap);
      expect(seen!.cgroup).toBe(ours!.cgroup);
    } finally {
      child.kill();
    }
  });

  it('reports the namespaces a process was unshared into and its uid/gid maps as seen from outside', async () => {
    if (!hasUnshare) return console.warn('skipped: util-linux unshare is not installed');
    // Mapping our uid to root needs no privilege, but the network and uts namespaces need CAP_SYS_ADMIN in the new
    // user namespace, which --user gives; kernels that forbid unprivileged user namespaces refuse it without root.
    let child: ChildProcess;
    try {
      child = await unshared(['--user', '--map-root-user', '--net', '--uts', '--ipc']);
    } catch (e) {
      if (!isRoot) return console.warn(`skipped: unprivileged user namespaces are refused here (${(e as Error).message})`);
      throw e;
    }
    try {
      const seen = readProcessIsolation(child.pid!);
      expect(seen).toMatchObject({
        namespaces: ['credential', 'ipc', 'network', 'uname'],
        uidmap: [{ container: 0, host: process.geteuid!(), size: 1 }],
        gidmap: [{ container: 0, host: process.getegid!(), size: 1 }],
      });
    } finally {
      child.kill();
    }
  });

  it('returns null for a process that does not exist', () => {
    const gone = spawnSync('true');
    expect(readProcessIsolation(gone.pid)).toBeNull();
    expect(readProcessIsolation(0)).toBeNull();
  });

  it('parses id maps and the cgroup v2 line', () => {
    expect(parseIdMap('         0     100000      65536\n      1000       1000          1\n')).toEqual([
      { container: 0, host: 100000, size: 65536 },
      { container: 1000, host: 1000, size: 1 },
    ]);
    expect(parseCgroupPath('0::/system.slice/warden/app-x\n')).toBe('/system.slice/warden/app-x');
    expect(parseCgroupPath('1:name=systemd:/\n')).toBeNull();
  });
});
