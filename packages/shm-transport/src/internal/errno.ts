import { constants } from 'os';

/** The name of a (positive) errno, from Node's table of the platform's errnos (libuv's own lacks some, e.g. ENOEXEC). */
export function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(constants.errno)) if (n === errno) return name;
  return `errno ${errno}`;
}
