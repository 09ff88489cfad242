import { constants, promises as fsp, type Stats } from 'fs';
import * as path from 'path';
import { pipeline } from 'stream';
import type { HttpSettings, ShareSpec } from './compiled-config';
import { mimeTypeOf } from './mime-types';
import type { NodeRequestContext } from './request-context';
import { chrootRest, errnoStatus, fsRoot, MAY_READ, mountPoints, permits, walk, type FileIdentity, type Reached, type WalkOptions } from './share-path';

/** Result of serving: 0 = answered, otherwise the status to answer with (or to try `fallback` for). */
export type ShareResult = number;

/**
 * open(2) flags for a file to serve. O_NONBLOCK: opening a FIFO must not park a libuv thread until a writer appears
 * (it is then refused as not a regular file); O_NOCTTY: a terminal device must not become wardend's controlling one.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * `share`, as Unit serves it (nxt_http_static.c): a method other than GET and HEAD goes to `fallback` (405 without
 * one); each path is tried in order and the first regular file is served, with ETag/Last-Modified validators,
 * `If-None-Match`/`If-Modified-Since` (304) and single `Range` requests (206/416); a directory named without a
 * trailing slash is redirected (301). When every path fails, the status of the last one is answered (or `fallback`
 * taken): 404 for what does not exist or is not a regular file, 403 for what may not be served (`types`, `chroot`,
 * `follow_symlinks`, `traverse_mounts`, and permissions: with `identity`, a file that user could not open).
 */
export async function serveShare(ctx: NodeRequestContext, spec: ShareSpec, settings: HttpSettings, identity: FileIdentity | null): Promise<ShareResult> {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    if (spec.fallback === null) ctx.res.setHeader('Allow', 'GET, HEAD');
    return 405;
  }
  let status = 404;
  for (const tpl of spec.paths) {
    status = await tryFile(ctx, tpl(ctx), spec, settings, identity);
    if (status === 0) return 0;
  }
  return status;
}

async function tryFile(ctx: NodeRequestContext, share: string, spec: ShareSpec, settings: HttpSettings, identity: FileIdentity | null): Promise<number> {
  if (share === '' || share.indexOf('\0') !== -1) return 404;
  const dirShare = share.endsWith('/');
  const file = dirShare ? share + spec.index : share;
  let type: string | null = null;
  if (!dirShare && spec.types !== null) {
    // Unit tests `types` before opening, and only for a share that names a file (not for the index).
    type = mimeTypeOf(file, settings.mimeTypes);
    if (!spec.types(type.toLowerCase())) return 403;
  }
  const opened = await openShared(ctx, file, spec, identity);
  if (typeof opened === 'number') return opened;
  const { fh, st } = opened;
  let handedOff = false;
  try {
    if (st.isFile()) {
      handedOff = sendFile(ctx, fh, st, type ?? mimeTypeOf(file, settings.mimeTypes));
      return 0;
    }
    if (!st.isDirectory() || dirShare) return 404; // sockets, FIFOs, devices; a directory as the index
    redirectToDirectory(ctx);
    return 0;
  } finally {
    if (!handedOff) await fh.close().catch(() => undefined);
  }
}

/**
 * Opens the file to serve, or answers the status to give instead. With no `chroot`, no restriction and no identity
 * the kernel resolves the path in one open(2). Otherwise the path is walked component by component (share-path.ts)
 * and the file reached is opened without following a symlink; fstat(2) on the opened descriptor must show the very
 * inode the walk reached (a component swapped for a symlink in between is refused), and its mode is what the
 * identity's read permission is checked on.
 */
async function openShared(
  ctx: NodeRequestContext,
  file: string,
  spec: ShareSpec,
  identity: FileIdentity | null,
): Promise<{ fh: fsp.FileHandle; st: Stats } | number> {
  const chroot = spec.chroot === null ? '' : spec.chroot(ctx);
  if (chroot === '' && identity === null && spec.followSymlinks && spec.traverseMounts) {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(file, OPEN_FLAGS);
    } catch (e) {
      return errnoStatus(e);
    }
    try {
      return { fh, st: await fh.stat() };
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }
  const o: WalkOptions = {
    noSymlinks: !spec.followSymlinks,
    mounts: spec.traverseMounts ? null : await mountPoints(),
    identity,
  };
  let reached: Reached | number;
  if (chroot !== '') {
    const rest = chrootRest(chroot, file);
    if (rest === null) return 403;
    // The chroot directory itself is reached as Unit opens it: an ordinary lookup (symlinks followed, no limits).
    const root = await walk(await fsRoot(), absolute(chroot), { noSymlinks: false, mounts: null, identity });
    if (typeof root === 'number') return root;
    if (!root.st.isDirectory()) return 404;
    reached = await walk(root, rest, o);
  } else {
    // A relative name is opened from the working directory (Unit: openat2(AT_FDCWD)): mounts count below it only.
    if (o.mounts !== null && !file.startsWith('/')) o.mountBase = { path: process.cwd(), st: await fsp.stat(process.cwd()) };
    reached = await walk(await fsRoot(), absolute(file), o);
  }
  if (typeof reached === 'number') return reached;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(reached.path, OPEN_FLAGS | constants.O_NOFOLLOW);
  } catch (e) {
    return errnoStatus(e);
  }
  let st: Stats;
  try {
    st = await fh.stat();
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
  if (st.ino !== reached.st.ino || st.dev !== reached.st.dev || (identity !== null && !permits(st, identity, MAY_READ))) {
    await fh.close().catch(() => undefined);
    return 403;
  }
  return { fh, st };
}

/** A share path as an absolute one (a relative share is relative to wardend's working directory, as in Unit). */
function absolute(p: string): string {
  return p.startsWith('/') ? p : path.join(process.cwd(), p);
}

/**
 * Unit's redirect of a directory named without a trailing slash: 301, `Location` = the request path (after
 * `rewrite`), percent-encoded as nxt_encode_uri does, plus `/` and the query; no body and no Content-Type.
 */
function redirectToDirectory(ctx: NodeRequestContext): void {
  const res = ctx.res;
  const q = ctx.query;
  res.statusCode = 301;
  res.setHeader('Location', `${encodeUri(ctx.path)}/${q === '' ? '' : '?' + q}`);
  res.setHeader('Content-Length', 0);
  res.end();
}

/** Bytes nxt_encode_uri escapes: controls, space, `"#%<>?\\^\`{|}`, DEL and every byte from 0x80. */
const URI_ESCAPE = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = b < 0x21 || b >= 0x7f || '"#%<>?\\^`{|}'.includes(String.fromCharCode(b)) ? 1 : 0;
  return t;
})();

function encodeUri(p: string): string {
  const bytes = Buffer.from(p, 'utf8');
  let escape = false;
  for (const b of bytes) if (URI_ESCAPE[b] === 1) escape = true;
  if (!escape) return p;
  let out = '';
  for (const b of bytes) out += URI_ESCAPE[b] === 1 ? '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase() : String.fromCharCode(b);
  return out;
}

/** Sends the opened file; returns true when the file handle now belongs to a stream that closes it. */
function sendFile(ctx: NodeRequestContext, fh: fsp.FileHandle, st: Stats, type: string): boolean {
  const req = ctx.req;
  const res = ctx.res;
  const mtimeSec = Math.floor(st.mtimeMs / 1000);
  const etag = `"${mtimeSec.toString(16)}-${st.size.toString(16)}"`;
  const lastModified = new Date(mtimeSec * 1000).toUTCString();
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', lastModified);
  if (type !== '') res.setHeader('Content-Type', type);
  res.setHeader('Accept-Ranges', 'bytes');

  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  let notModified = false;
  if (inm !== undefined) notModified = inm.trim() === '*' || inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
  else if (ims !== undefined) {
    const since = Date.parse(ims);
    notModified = !Number.isNaN(since) && mtimeSec * 1000 <= since;
  }
  if (notModified) {
    res.statusCode = 304;
    res.removeHeader('Content-Type');
    res.end();
    return false;
  }

  let start = 0;
  let end = st.size - 1;
  res.statusCode = 200;
  const range = req.headers.range;
  const ifRange = req.headers['if-range'];
  const rangeApplies = range !== undefined && (ifRange === undefined || ifRange === etag || ifRange === lastModified);
  if (rangeApplies) {
    const r = parseRange(range, st.size);
    if (r === 'unsatisfiable') {
      res.statusCode = 416;
      res.setHeader('Content-Range', `bytes */${st.size}`);
      res.removeHeader('Content-Type');
      res.setHeader('Content-Length', 0);
      res.end();
      return false;
    }
    if (r !== null) {
      [start, end] = r;
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${st.size}`);
    }
  }
  const length = st.size === 0 ? 0 : end - start + 1;
  res.setHeader('Content-Length', length);
  if (ctx.method === 'HEAD' || length === 0) {
    res.end();
    return false;
  }
  if (res.destroyed) return false; // the client went away while the file was opened: nothing to stream to
  // pipeline, not pipe: a response closed early (client gone, timeout) destroys the file stream, which closes the
  // file; pipe() would wait for a 'drain' that never comes and leave the descriptor to the garbage collector.
  pipeline(fh.createReadStream({ start, end, autoClose: true }), res, () => undefined);
  return true;
}

/** One `bytes=` range; null = ignore the header (malformed or several ranges), 'unsatisfiable' = 416. */
function parseRange(h: string, size: number): [number, number] | null | 'unsatisfiable' {
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(h);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size - 1];
  }
  const a = Number(m[1]);
  const b = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (a >= size) return 'unsatisfiable';
  if (b < a) return null;
  return [a, b];
}
