import { promises as fs } from 'fs';
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
 */
export async function writeIdMaps(pid: number, maps: IdMapWrite): Promise<void> {
  const root = maps.procRoot ?? '/proc';
  const deny = maps.denySetgroups ?? process.geteuid?.() !== 0;
  await writeOnce(`${root}/${pid}/uid_map`, formatIdMap(maps.uidmap));
  if (deny) await writeOnce(`${root}/${pid}/setgroups`, 'deny');
  await writeOnce(`${root}/${pid}/gid_map`, formatIdMap(maps.gidmap));
}

async function writeOnce(file: string, text: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'w');
    const buf = Buffer.from(text);
    const { bytesWritten } = await handle.write(buf, 0, buf.length, null);
    if (bytesWritten !== buf.length) throw Object.assign(new Error('short write'), { code: 'EIO', errno: -5 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw Object.assign(new IdMapError('WARDEN_ERR_IDMAP_WRITE', `Writing ${JSON.stringify(text.trim())} to ${file} failed: ${e.code ?? e.message}.`), {
      errno: typeof e.errno === 'number' ? Math.abs(e.errno) : undefined,
      syscall: e.code,
    });
  } finally {
    await handle?.close();
  }
}
