import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'fs';
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
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
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
