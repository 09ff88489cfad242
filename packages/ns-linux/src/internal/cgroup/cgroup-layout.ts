import { readFileSync } from 'fs';
import * as path from 'path';

/** One mounted cgroup hierarchy and where the current process sits in it. */
export interface CgroupHierarchy {
  version: 1 | 2;
  /** Mount point, e.g. `/sys/fs/cgroup/memory` or `/sys/fs/cgroup/unified`. */
  mount: string;
  /** v1: the controllers bound to this hierarchy; v2: the controllers available at the mount's root. */
  controllers: string[];
  /** The current process's cgroup as a directory under `mount`. */
  ownDir: string;
  /** The hierarchy's root as a directory (the mount point, or above it when only a subtree is mounted). */
  mountRootPath: string;
}

/**
 * Reads `/proc/self/mountinfo` and `/proc/self/cgroup` and returns the cgroup hierarchies of this machine: pure
 * cgroup v2 (one `cgroup2` mount with controllers), v1 controllers, or hybrid (v1 controllers plus a `cgroup2`
 * mount without controllers, e.g. `/sys/fs/cgroup/unified`).
 */
export function readCgroupLayout(proc = '/proc/self'): CgroupHierarchy[] {
  const own = new Map<string, string>(); // "2" or sorted v1 controller list → path
  for (const line of safeRead(`${proc}/cgroup`).split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    own.set(m[1] === '0' && m[2] === '' ? 'v2' : m[2].split(',').sort().join(','), m[3]);
  }
  const out: CgroupHierarchy[] = [];
  for (const line of safeRead(`${proc}/mountinfo`).split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    const root = unescape(pre[3]);
    const mount = unescape(pre[4]);
    if (fstype === 'cgroup2') {
      const ownPath = own.get('v2');
      if (ownPath === undefined) continue;
      const controllers = safeRead(path.join(mount, 'cgroup.controllers')).trim().split(/\s+/).filter(Boolean);
      out.push({ version: 2, mount, controllers, ownDir: under(mount, root, ownPath), mountRootPath: mount });
    } else if (fstype === 'cgroup') {
      const controllers = superOpts
        .split(',')
        .filter((o) => !['rw', 'ro'].includes(o) && !o.includes('=') && o !== 'clone_children' && o !== 'noprefix' && o !== 'xattr' && o !== 'cpuset_v2_mode');
      const named = superOpts.split(',').find((o) => o.startsWith('name='));
      const key = [...controllers, ...(named ? [named] : [])].sort().join(',');
      const ownPath = own.get(key);
      if (ownPath === undefined || controllers.length === 0) continue;
      out.push({ version: 1, mount, controllers, ownDir: under(mount, root, ownPath), mountRootPath: mount });
    }
  }
  return out;
}

function under(mount: string, mountRoot: string, ownPath: string): string {
  // /proc/self/cgroup paths are relative to the hierarchy root; the mount may show only a subtree of it.
  const rel = mountRoot !== '/' && ownPath.startsWith(mountRoot) ? ownPath.slice(mountRoot.length) : ownPath;
  return path.join(mount, rel);
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
