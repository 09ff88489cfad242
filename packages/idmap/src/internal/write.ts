import { closeSync, openSync, writeSync } from 'fs';
import { formatIdMap, IdMapEntry, IdMapError } from './id-map';

/** What {@link writeIdMaps} writes for one process. */
export interface IdMapWrite {
  uidmap: readonly IdMapEntry[];
  gidmap: readonly IdMapEntry[];
  /**
   * Write `deny` to `/proc/PID/setgroups` before the gid map. Required by the kernel when the writer lacks
   * CAP_SETGID in the parent namespace (an unprivileged daemon). Default: true when the current euid is not 0.
   */
  denySetgroups?: boolean;
  /** Where procfs is mounted (tests). Default `/proc`. */
  procRoot?: string;
}

/**
 * Writes the maps of the user namespace of `pid` in the only order the kernel accepts from an unprivileged writer:
 * `uid_map`, then `setgroups` (= `deny` when unprivileged), then `gid_map`. Each file is written with one write(2),
 * as the kernel requires. Throws {@link IdMapError} `WARDEN_ERR_IDMAP_WRITE` naming the file and errno.
 *
 * The writes are synchronous (the promise is settled when it is returned): procfs files never wait for a disk, and
 * six round trips through libuv's threads (open, write, close of two files) took about 1 ms of an isolated app's
 * start while the event loop was busy with the rest of the start.
 */
export async function writeIdMaps(pid: number, maps: IdMapWrite): Promise<void> {
  const root = maps.procRoot ?? '/proc';
  const deny = maps.denySetgroups ?? process.geteuid?.() !== 0;
  writeOnce(`${root}/${pid}/uid_map`, formatIdMap(maps.uidmap));
  if (deny) writeOnce(`${root}/${pid}/setgroups`, 'deny');
  writeOnce(`${root}/${pid}/gid_map`, formatIdMap(maps.gidmap));
}

function writeOnce(file: string, text: string): void {
  let fd = -1;
  try {
    fd = openSync(file, 'w');
    const buf = Buffer.from(text);
    const bytesWritten = writeSync(fd, buf, 0, buf.length, null);
    if (bytesWritten !== buf.length) throw Object.assign(new Error('short write'), { code: 'EIO', errno: -5 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw Object.assign(new IdMapError('WARDEN_ERR_IDMAP_WRITE', `Writing ${JSON.stringify(text.trim())} to ${file} failed: ${e.code ?? e.message}.`), {
      errno: typeof e.errno === 'number' ? Math.abs(e.errno) : undefined,
      syscall: e.code,
    });
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
