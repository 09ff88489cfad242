import { mkdirSync, readFileSync, unlinkSync } from 'fs';
import { basename, dirname, join } from 'path';
import type { Logger } from 'pino';
import { WardenError } from '../contracts';
import { writeFileAtomic } from '../control/atomic-file';

/** What a pid file names: a pid, and whether that process is a running wardend. */
export interface PidFileOwner {
  pid: number;
  /** True when the process exists and looks like a wardend (its command line mentions `wardend`). */
  running: boolean;
}

/**
 * Reads `file`: undefined when it does not exist or holds no pid. A process that exists but is not a wardend (its pid
 * was reused after a crash or a reboot) counts as not running. Where `/proc/<pid>/cmdline` cannot be read, an
 * existing process counts as running (refusing is the safe side).
 */
export function readPidFile(file: string): PidFileOwner | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, running: pid !== process.pid && isWardend(pid) };
}

function isWardend(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('wardend');
  } catch {
    return true;
  }
}

/**
 * Claims `file` for this process, as Unit writes its pid file before it creates the control socket: refuses with
 * WARDEN_ERR_PID_IN_USE when the file names a running wardend; otherwise a stale file (left by a killed wardend) is
 * logged and replaced. The pid is written atomically, so a reader never sees a partial file.
 */
export function claimPidFile(file: string, log: Logger): void {
  const owner = readPidFile(file);
  if (owner?.running) {
    throw new WardenError(
      'WARDEN_ERR_PID_IN_USE',
      `The pid file ${file} names process ${owner.pid}, a wardend that is running; stop it first (kill -QUIT ${owner.pid}) or choose another --pid.`,
    );
  }
  if (owner) log.warn({ file, stalePid: owner.pid }, `replacing the stale pid file ${file} (process ${owner.pid} is gone)`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, Buffer.from(`${process.pid}\n`), join(dirname(file), `.${basename(file)}.tmp-${process.pid}`), 0o644);
  } catch (e) {
    throw new WardenError('WARDEN_ERR_PID_FILE', `Cannot write the pid file ${file}: ${(e as Error).message}. Check --pid and its directory.`);
  }
}

/** Removes `file` if it still names this process (never another wardend's file). */
export function releasePidFile(file: string): void {
  if (readPidFile(file)?.pid !== process.pid) return;
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}
