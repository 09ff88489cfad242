import { readFileSync, readlinkSync } from 'fs';

/** One line of a process's `uid_map` or `gid_map`, in the config's `uidmap`/`gidmap` shape. */
export interface ObservedIdMapEntry {
  container: number;
  host: number;
  size: number;
}

/**
 * The isolation a process really runs in, read back from `/proc/<pid>` (not from its config): the namespaces it does
 * not share with wardend, its id maps as seen from wardend's user namespace, and its cgroup with that cgroup's limits.
 */
export interface ObservedIsolation {
  /** Namespaces (config names: cgroup, credential, ipc, mount, network, pid, time, uname) that differ from wardend's. */
  namespaces: string[];
  /** The process's `uid_map` / `gid_map` (identity `0 0 4294967295` outside a user namespace of its own). */
  uidmap: ObservedIdMapEntry[];
  gidmap: ObservedIdMapEntry[];
  /** Its cgroup v2 path (from `/proc/<pid>/cgroup`, relative to wardend's cgroup root), null when unreadable. */
  cgroup: string | null;
  /** `memory.max`, `pids.max`, `cpu.max` of that cgroup, those that exist and are readable. */
  limits: Record<string, string>;
}

/** `/proc/<pid>/ns/<file>` name → the config's namespace name. */
const NAMESPACE_FILES: readonly (readonly [string, string])[] = [
  ['cgroup', 'cgroup'],
  ['user', 'credential'],
  ['ipc', 'ipc'],
  ['mnt', 'mount'],
  ['net', 'network'],
  ['pid', 'pid'],
  ['time', 'time'],
  ['uts', 'uname'],
];
const LIMIT_FILES = ['memory.max', 'pids.max', 'cpu.max'];

function readOr<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** Parses a `uid_map`/`gid_map` text ("inside outside count" lines). */
export function parseIdMap(text: string): ObservedIdMapEntry[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every((n) => Number.isFinite(n)))
    .map(([container, host, size]) => ({ container: container!, host: host!, size: size! }));
}

/** The cgroup v2 path of a `/proc/<pid>/cgroup` text (its `0::` line), null without one. */
export function parseCgroupPath(text: string): string | null {
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? null : line.slice(3);
}

/**
 * Reads what process `pid` runs in, compared with the calling process (wardend). Returns null when the process is
 * gone or its `/proc` entry cannot be read (another user's process without the rights to look). `cgroupRoot` is where
 * the cgroup v2 hierarchy is mounted.
 */
export function readProcessIsolation(pid: number, cgroupRoot = '/sys/fs/cgroup'): ObservedIsolation | null {
  if (!(pid > 0)) return null;
  const proc = `/proc/${pid}`;
  const namespaces: string[] = [];
  let readable = false;
  for (const [file, name] of NAMESPACE_FILES) {
    const theirs = readOr(() => readlinkSync(`${proc}/ns/${file}`), null);
    if (theirs === null) continue;
    readable = true;
    const ours = readOr(() => readlinkSync(`/proc/self/ns/${file}`), null);
    if (ours !== null && theirs !== ours) namespaces.push(name);
  }
  if (!readable) return null;
  const cgroup = readOr(() => parseCgroupPath(readFileSync(`${proc}/cgroup`, 'utf8')), null);
  const limits: Record<string, string> = {};
  if (cgroup !== null) {
    for (const file of LIMIT_FILES) {
      const value = readOr(() => readFileSync(`${cgroupRoot}${cgroup === '/' ? '' : cgroup}/${file}`, 'utf8').trim(), null);
      if (value !== null) limits[file] = value;
    }
  }
  return {
    namespaces: namespaces.sort(),
    uidmap: readOr(() => parseIdMap(readFileSync(`${proc}/uid_map`, 'utf8')), []),
    gidmap: readOr(() => parseIdMap(readFileSync(`${proc}/gid_map`, 'utf8')), []),
    cgroup,
    limits,
  };
}
