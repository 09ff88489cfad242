import { promises as fsp, type Stats } from 'fs';

/**
 * The user files are served for: a file is served only when this user could open it (search permission on every
 * directory on the way, read permission on the file), as if the router ran as that user, the way Unit's and nginx's
 * unprivileged router/worker processes open files. `groups` holds every group of the user, the primary one included.
 */
export interface FileIdentity {
  uid: number;
  gid: number;
  groups: readonly number[];
}

/** Permission bits asked for. */
export const MAY_READ = 4;
export const MAY_SEARCH = 1;

/**
 * Whether `id` gets `want` (MAY_READ, MAY_SEARCH) on a file with these owner, group and mode bits, by the kernel's
 * rule (generic_permission): the owner class when the uid matches, else the group class when one of the user's groups
 * matches, else the other class; uid 0 gets everything. POSIX ACLs are not read (see the package README).
 */
export function permits(st: Stats, id: FileIdentity, want: number): boolean {
  if (id.uid === 0) return true;
  let bits: number;
  if (st.uid === id.uid) bits = st.mode >> 6;
  else if (st.gid === id.gid || id.groups.includes(st.gid)) bits = st.mode >> 3;
  else bits = st.mode;
  return (bits & want) === want;
}

/** A directory or file reached by a walk: its path without symlinks and its lstat. */
export interface Reached {
  path: string;
  st: Stats;
}

/** How a walk resolves a path, after openat2(2)'s RESOLVE_* flags as Unit uses them. */
export interface WalkOptions {
  /** RESOLVE_NO_SYMLINKS (`follow_symlinks: false`): any symlink on the way is refused. */
  noSymlinks: boolean;
  /** Mount points (RESOLVE_NO_XDEV, `traverse_mounts: false`): crossing one is refused; null: crossing is allowed. */
  mounts: ReadonlySet<string> | null;
  /**
   * Where mount crossings start to count (default: the walk's root): a relative share is opened from the working
   * directory (openat2(AT_FDCWD, RESOLVE_NO_XDEV)), so the mounts from `/` down to it are not crossings.
   */
  mountBase?: Reached;
  /** Check each step with this user's permissions; null: no check (the kernel's own when the file is opened). */
  identity: FileIdentity | null;
}

/** The most symlinks one walk follows, as the kernel (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/**
 * Resolves `rel` below `root` component by component, the way openat2(RESOLVE_IN_ROOT) does: `..` never climbs above
 * `root`, an absolute symlink starts again at `root`, so nothing outside `root` is reached (with root `/` this is the
 * kernel's plain path lookup). Each directory passed must be searchable by the identity. Answers what it reached, or
 * the HTTP status Unit answers for the errno the kernel would give: 404 (ENOENT, ENOTDIR, ENAMETOOLONG), 403
 * (EACCES, ELOOP, EXDEV). Other errors are thrown (500).
 */
export async function walk(root: Reached, rel: string, o: WalkOptions): Promise<Reached | number> {
  const stack: Reached[] = [root];
  const todo = rel.split('/').filter((n) => n !== '' && n !== '.');
  todo.reverse(); // next component last
  if (todo.length > 1 && !todo.includes('..')) {
    // The common case, no `..`: every prefix is looked up at once (one round trip through libuv's pool instead of one
    // per component). A symlink at some component makes the lookups past it meaningless (they went through it): the
    // walk goes on one component at a time from there.
    const paths: string[] = [];
    let p = root.path;
    for (let i = todo.length - 1; i >= 0; i--) paths.push((p = p === '/' ? `/${todo[i]}` : `${p}/${todo[i]}`));
    const found = await Promise.all(paths.map((q) => lookup(q)));
    for (let i = 0; i < paths.length; i++) {
      const r = enter(stack, paths[i], found[i], root, o);
      if (r === SYMLINK) break;
      if (r !== ENTERED) return r;
      todo.pop();
    }
  }
  let links = 0;
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (name === '' || name === '.') continue;
    const cur = stack[stack.length - 1];
    if (name === '..') {
      if (!cur.st.isDirectory()) return 404;
      if (o.identity !== null && !permits(cur.st, o.identity, MAY_SEARCH)) return 403;
      if (stack.length > 1) stack.pop();
      continue;
    }
    const path = cur.path === '/' ? `/${name}` : `${cur.path}/${name}`;
    const r = enter(stack, path, await lookup(path), root, o);
    if (r === ENTERED) continue;
    if (r !== SYMLINK) return r;
    if (++links > MAX_SYMLINKS) return 403;
    let target: string;
    try {
      target = await fsp.readlink(path);
    } catch (e) {
      return errnoStatus(e);
    }
    if (target.startsWith('/')) stack.length = 1;
    const parts = target.split('/');
    for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]);
  }
  return stack[stack.length - 1];
}

/** A lookup that failed (kept as a value: several run at once and are judged in order). */
interface Failed {
  error: unknown;
}

function lookup(path: string): Promise<Stats | Failed> {
  return fsp.lstat(path).catch((error: unknown) => ({ error }));
}

const ENTERED = 0;
const SYMLINK = -1;

/**
 * One step of a walk from the top of `stack` into `path`, given its lstat (or the lookup's error): ENTERED (pushed),
 * SYMLINK (to be followed; not pushed), or the status to answer. The directory the lookup went through must be one
 * the identity may search, whatever the lookup found.
 */
function enter(stack: Reached[], path: string, found: Stats | Failed, root: Reached, o: WalkOptions): number {
  const cur = stack[stack.length - 1];
  if (!cur.st.isDirectory()) return 404;
  if (o.identity !== null && !permits(cur.st, o.identity, MAY_SEARCH)) return 403;
  if ('error' in found) return errnoStatus(found.error);
  if (found.isSymbolicLink()) return o.noSymlinks ? 403 : SYMLINK;
  if (o.mounts !== null) {
    const base = o.mountBase ?? root;
    const below = base.path === '/' || path.startsWith(base.path + '/');
    if (below && (found.dev !== base.st.dev || o.mounts.has(path))) return 403;
  }
  stack.push({ path, st: found });
  return ENTERED;
}

/** `/`, reached. */
export async function fsRoot(): Promise<Reached> {
  return { path: '/', st: await fsp.stat('/') };
}

/** The HTTP status for an errno of open(2)/lstat(2), as Unit maps them; other errors are rethrown. */
export function errnoStatus(e: unknown): number {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
    case 'ENXIO': // a UNIX socket
    case 'EOPNOTSUPP':
      return 404;
    case 'EACCES':
    case 'EPERM':
    case 'ELOOP':
    case 'EXDEV':
      return 403;
    default:
      throw e;
  }
}

/**
 * The part of `share` below `chroot`, compared as Unit does (nxt_http_static_chroot_match): textually, runs of `/`
 * counting as one, on a component boundary; null when `share` is not strictly below `chroot` (Unit answers 403).
 */
export function chrootRest(chroot: string, share: string): string | null {
  let c = 0;
  let s = 0;
  if (chroot.length === 0 || share.length === 0 || chroot[0] !== share[0]) return null;
  c++;
  s++;
  for (;;) {
    if (s === share.length) return null;
    if (c < chroot.length && chroot[c] === share[s]) {
      c++;
      s++;
      continue;
    }
    if (c === chroot.length) break;
    if (chroot[c] === '/') {
      if (chroot[c - 1] === '/') {
        c++;
        continue;
      }
    } else if (share[s] === '/' && share[s - 1] === '/') {
      s++;
      continue;
    }
    return null;
  }
  if (share[s - 1] !== '/' && share[s] !== '/') return null;
  while (s < share.length && share[s] === '/') s++;
  return s < share.length ? share.slice(s) : null;
}

/** The mount points of this process's mount namespace (`/proc/self/mountinfo`, field 5, octal escapes undone). */
export async function mountPoints(): Promise<Set<string>> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    let at = 0;
    for (let i = 0; i < 4 && at !== -1; i++) at = line.indexOf(' ', at + 1);
    if (at === -1) continue;
    const end = line.indexOf(' ', at + 1);
    const field = line.slice(at + 1, end === -1 ? undefined : end);
    out.add(field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))));
  }
  return out;
}
