import { closeSync, readdirSync, readFileSync } from 'fs';

/** O_CLOEXEC as /proc/PID/fdinfo/N reports it in its octal `flags:` field. */
const O_CLOEXEC = 0o2000000;

/**
 * Closes every file descriptor above 2 that this process inherited from whoever started it (a shell's
 * `exec 77</some/dir`, a supervisor's socket), except `keep`. Node opens all of its own fds close-on-exec, so an fd
 * without O_CLOEXEC at start-up is an inherited one; left open, every process wardend starts with a plain spawn would
 * inherit it too, and an fd to a directory outside an app's rootfs lets that app walk out of it. Node has no
 * fcntl(), so the fds are closed rather than marked close-on-exec; wardend never uses them. Runs once, first thing
 * at start. Returns the fds it closed. Without /proc it does nothing (the spawn helper still closes them for
 * isolated apps).
 */
export function closeInheritedFds(keep: readonly number[] = []): number[] {
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  const closed: number[] = [];
  for (const entry of fds) {
    const fd = Number(entry);
    if (!(fd > 2) || keep.includes(fd)) continue;
    let flags: number;
    try {
      flags = parseInt(/^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '', 8);
    } catch {
      continue; // the directory listing's own fd, already closed
    }
    if (Number.isNaN(flags) || flags & O_CLOEXEC) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      /* already closed */
    }
  }
  return closed;
}
