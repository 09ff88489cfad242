import * as path from 'path';
import { ShmError, ShmErrorCode } from '../errors';

/** The addon built from native/shm.cc by node-gyp (see binding.gyp). */
export interface NativeShm {
  createMemory(size: number): { fd: number; buffer: ArrayBuffer };
  mapMemory(fd: number): ArrayBuffer;
  /** Detaches a buffer of createMemory/mapMemory and unmaps it now; false if it was not one or already released. */
  releaseMemory(buffer: ArrayBuffer): boolean;
  socketpair(): [number, number];
  setCloexec(fd: number): void;
  getSeals(fd: number): number;
  /** One byte on the doorbell socket (non-blocking send); returns 0 or the errno (EAGAIN counts as success). */
  ring(fd: number): number;
  /** mallopt(M_TRIM_THRESHOLD, trim) and mallopt(M_MMAP_THRESHOLD, mmap); false without glibc. */
  tuneAllocator(trim: number, mmap: number): boolean;
  SEAL_SHRINK: number;
  SEAL_GROW: number;
  /** native/process.cc: a bound, listening, non-blocking, close-on-exec socket (see process-support.ts). */
  listenSocket(opts: { host: string; port: number; backlog?: number; ipv6Only?: boolean; reusePort?: boolean } | { path: string; backlog?: number }): {
    fd: number;
    port: number;
  };
  /** native/process.cc: PR_SET_NO_NEW_PRIVS and PR_SET_DUMPABLE 0. */
  hardenProcess(): void;
  /** native/spawn.cc: clone(CLONE_VM | CLONE_VFORK) + exec (see spawnProcess in process-support.ts). */
  spawnProcess(opts: {
    file: string;
    argv: string[];
    env: string[];
    cwd?: string;
    uid?: number;
    gid?: number;
    groups?: number[];
    setsid?: boolean;
    newSessionKeyring?: boolean;
    fds: number[];
  }): {
    pid: number;
    pidfd: number;
  };
  /** native/spawn.cc: waitid(P_PID, pid, WEXITED | WNOHANG); null while the process runs; `signal` 0 for an exit. */
  reapProcess(pid: number): { code: number | null; signal: number } | null;
  /** native/users.cc: a number is an id (getpwuid_r / getgrgid_r), a string a name (getpwnam_r / getgrnam_r); null: not found. */
  lookupUser?(key: string | number): { name: string; uid: number; gid: number; home: string } | null;
  lookupGroup?(key: string | number): { name: string; gid: number; members: string[] } | null;
  /** native/users.cc: getgrouplist. */
  groupList?(user: string, gid: number): number[];
  /** native/fd-socket.cc: socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK). */
  fdSocketPair(): [number, number];
  /** One sendmsg of `payload` with `fds` as SCM_RIGHTS (MSG_NOSIGNAL | MSG_DONTWAIT); 0 or the errno. */
  fdSend(fd: number, payload: Buffer, fds: number[]): number;
  /**
   * One recvmsg into `buf` (MSG_CMSG_CLOEXEC | MSG_DONTWAIT): undefined when nothing is queued; `bytes` -1 with
   * `error` 0 = EOF, with `error` set = the errno; `truncated` = MSG_TRUNC or MSG_CTRUNC (the fds are ours to close).
   */
  fdRecv(fd: number, buf: Buffer): { bytes: number; error: number; fds: number[]; truncated: boolean } | undefined;
  /** uv_poll_t on `fd` (UV_READABLE): `onPoll(0)` when readable, a negative libuv error when polling failed. */
  FdPoll: new (fd: number, onPoll: (status: number) => void) => { ref(): void; unref(): void; stop(): void };
  /** The most fds one FdSocket message carries. */
  FD_SOCKET_MAX_FDS: number;
}

let cached: NativeShm | undefined;
let allocatorTuned = false;

/**
 * Once per process, before the first channel: raises glibc's malloc trim threshold to 64 MiB and fixes the mmap
 * threshold at 4 MiB, so body chunks freed and allocated at a high rate reuse heap memory instead of returning pages
 * to the kernel and faulting them in again (see tuneAllocator in native/shm.cc). Off with WARDEN_SHM_MALLOC_TUNING=0.
 */
export function tuneAllocatorOnce(n: NativeShm): void {
  if (allocatorTuned) return;
  allocatorTuned = true;
  if (process.env.WARDEN_SHM_MALLOC_TUNING === '0') return;
  n.tuneAllocator(64 << 20, 4 << 20);
}

/**
 * Loads the addon once, with node-gyp-build: a local build (build/Release, from `npm run build` or a compile at
 * install time) wins, then the prebuilt binary shipped in the package (prebuilds/<platform>-<arch>/), so an installed
 * package needs no compiler on linux x64/arm64 (glibc). A clear error when neither is there.
 */
export function native(): NativeShm {
  if (cached) return cached;
  // src/internal and dist/internal are both two levels below the package root.
  const root = path.join(__dirname, '..', '..');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => unknown;
    cached = load(root) as NativeShm;
  } catch (e) {
    throw new ShmError(
      ShmErrorCode.NATIVE,
      `cannot load the native addon of @warden/shm-transport from ${root} (${(e as Error).message.trim()}); ` +
        'no prebuilt binary fits this platform: build it with "npx node-gyp rebuild" in that directory ' +
        '(or "npm run build -w @warden/shm-transport" in the repository)',
    );
  }
  return cached;
}
