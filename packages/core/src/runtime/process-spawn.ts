import { spawnProcess } from '@warden/shm-transport';
import type { AppProcess } from '../contracts';
import { outputLines } from './output-lines';

/** What {@link spawnApp} starts: an executable with argv, env, cwd, credentials and inherited fds. */
export interface SpawnRequest {
  file: string;
  argv0: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** fd of an open file for stdout/stderr, or 'pipe' (lines come back through `onLine`). */
  stdout: number | 'pipe';
  stderr: number | 'pipe';
  /** Inherited at 3, 4, ... */
  fds: number[];
  uid?: number;
  gid?: number;
  /** Supplementary groups set with `uid` (the user's, as Unit sets them). */
  groups?: number[];
}

/**
 * Starts an app process with @warden/shm-transport's spawnProcess: clone(CLONE_VM | CLONE_VFORK) and exec, so
 * wardend's event loop waits only until the child exec'd (about 0.6 ms), not for a fork() that copies the page tables
 * of the whole main process (5-9 ms here, and more the bigger main grows; child_process.spawn did that, which is why
 * processes used to be started from a helper thread). The process gets a session of its own (setsid), so a
 * terminal's Ctrl-C (SIGINT to wardend's process group) reaches only wardend, which stops the app gracefully. The fds
 * in `req` may be closed once this returns. Throws the spawn error (ENOENT, EACCES, ...) as child_process reports it.
 */
export function spawnApp(req: SpawnRequest, onLine: (stream: 'stdout' | 'stderr', line: string) => void): AppProcess {
  const p = spawnProcess({
    file: req.file,
    argv: [req.argv0, ...req.args],
    env: req.env,
    cwd: req.cwd,
    uid: req.uid,
    gid: req.gid,
    groups: req.groups,
    setsid: true,
    newSessionKeyring: true,
    stdout: req.stdout,
    stderr: req.stderr,
    fds: req.fds,
  });
  p.unref(); // a running app never keeps wardend alive by itself
  outputLines(p.stdout, (line) => onLine('stdout', line));
  outputLines(p.stderr, (line) => onLine('stderr', line));
  let done = false;
  const exited = p.exited.then((e) => {
    done = true;
    return e;
  });
  return {
    pid: p.pid,
    exited,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (done) return;
      try {
        process.kill(p.pid, signal); // not reaped before `exited`: the pid cannot be another process's yet
      } catch {
        // gone meanwhile: its exit is on its way
      }
    },
  };
}
