import { closeSync, fsyncSync, openSync, promises as fsp, renameSync, unlinkSync, writeSync } from 'fs';
import { dirname } from 'path';

/**
 * Writes `data` to `file` atomically and durably: the temp file `tmp` (same filesystem) is written with `mode` (0600
 * unless given) and
 * fsynced, renamed over `file`, then the directory of `file` is fsynced so the rename itself survives a crash. A crash
 * at any point leaves either the old file or the new one, never a partial one. On failure the temp file is removed
 * and the error thrown.
 */
export function writeFileAtomic(file: string, data: Buffer, tmp: string, mode = 0o600): void {
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    fsyncDir(dirname(file));
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}

/**
 * Writes `data` to the new file `tmp` with `mode` and fsyncs it, on libuv's threads (the event loop goes on
 * meanwhile): the first half of writeFileAtomic, for a caller that renames it into place later (then fsyncDir). On
 * failure the file is removed and the error thrown.
 */
export async function writeFileDurable(tmp: string, data: Buffer, mode = 0o600): Promise<void> {
  try {
    const fh = await fsp.open(tmp, 'w', mode);
    try {
      let off = 0;
      while (off < data.length) off += (await fh.write(data, off)).bytesWritten;
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}

/** Removes `file`; a file already gone (or that cannot be removed) is no error. */
export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/** Makes a rename or unlink in `dir` durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
