import { constants, promises as fsp, type Stats } from 'fs';
import * as path from 'path';
import type { HttpSettings, ShareSpec } from './compiled-config';
import type { RequestContext } from './request-context';

/** Result of serving: 0 = answered, otherwise the status to answer with (or to try `fallback` for). */
export type ShareResult = number;

/** MIME type of a file name: exact names first, then the extension, then `application/octet-stream`. */
export function mimeTypeOf(file: string, settings: HttpSettings): string {
  const base = path.basename(file);
  const byName = settings.mimeByName.get(base);
  if (byName) return byName;
  const ext = path.extname(base).toLowerCase();
  return (ext && settings.mimeByExt.get(ext)) || 'application/octet-stream';
}

/**
 * `share`: tries each path in order and serves the first regular file found, with ETag/Last-Modified validators,
 * `If-None-Match`/`If-Modified-Since` (304) and single `Range` requests (206/416). A path outside `chroot`, a symlink
 * when `follow_symlinks` is false, or a mount crossing when `traverse_mounts` is false is refused with 403.
 */
export async function serveShare(ctx: RequestContext, spec: ShareSpec, settings: HttpSettings): Promise<ShareResult> {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    ctx.res.statusCode = 405;
    ctx.res.setHeader('Allow', 'GET, HEAD');
    ctx.res.setHeader('Content-Length', 0);
    ctx.res.end();
    return 0;
  }
  let worst = 404;
  for (const tpl of spec.paths) {
    const r = await tryFile(ctx, tpl(ctx), spec, settings);
    if (r === 0) return 0;
    if (r === 403) worst = 403;
  }
  return worst;
}

function isInside(file: string, root: string): boolean {
  return root === '/' || file === root || file.startsWith(root.endsWith('/') ? root : root + '/');
}

/** Walks the components of `file` below `root`: refuses symlinks and/or other filesystems as configured. */
async function checkComponents(file: string, root: string, spec: ShareSpec): Promise<number> {
  const rootStat = await fsp.stat(root);
  const rel = path.relative(root, file);
  if (rel === '') return 0;
  let cur = root;
  for (const seg of rel.split('/')) {
    cur = path.join(cur, seg);
    let st: Stats;
    try {
      st = await fsp.lstat(cur);
    } catch (e) {
      return errStatus(e);
    }
    if (st.isSymbolicLink()) {
      if (!spec.followSymlinks) return 403;
      try {
        st = await fsp.stat(cur);
      } catch (e) {
        return errStatus(e);
      }
    }
    if (!spec.traverseMounts && st.dev !== rootStat.dev) return 403;
  }
  return 0;
}

function errStatus(e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return 404;
  if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') return 403;
  throw e;
}

async function tryFile(ctx: RequestContext, raw: string, spec: ShareSpec, settings: HttpSettings): Promise<number> {
  if (raw.indexOf('\0') !== -1) return 404;
  let file = raw.endsWith('/') ? raw + spec.index : raw;
  file = path.resolve(file);
  let root = '/';
  if (spec.chroot !== null) {
    root = path.resolve(spec.chroot(ctx));
    if (!isInside(file, root)) return 403;
  }
  if (!spec.followSymlinks || !spec.traverseMounts) {
    const r = await checkComponents(file, root, spec);
    if (r !== 0) return r;
  }
  let fh: fsp.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not park a libuv thread until a writer appears (it is then refused as not a
    // regular file); it changes nothing for regular files.
    fh = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK | (spec.followSymlinks ? 0 : constants.O_NOFOLLOW));
  } catch (e) {
    return errStatus(e);
  }
  let handedOff = false;
  try {
    if (spec.chroot !== null && spec.followSymlinks) {
      // Symlinks may point anywhere: what was opened must still be inside the chroot.
      const [realFile, realRoot] = await Promise.all([fsp.realpath(file), fsp.realpath(root)]);
      if (!isInside(realFile, realRoot)) return 403;
    }
    const st = await fh.stat();
    if (st.isDirectory()) {
      redirectToDirectory(ctx);
      return 0;
    }
    if (!st.isFile()) return 404;
    const type = mimeTypeOf(file, settings);
    if (spec.types !== null && !spec.types(type.toLowerCase())) return 403;
    handedOff = sendFile(ctx, fh, st, type);
    return 0;
  } finally {
    if (!handedOff) await fh.close().catch(() => undefined);
  }
}

function redirectToDirectory(ctx: RequestContext): void {
  const res = ctx.res;
  const t = ctx.target;
  const q = t.indexOf('?');
  const location = q === -1 ? t + '/' : `${t.slice(0, q)}/${t.slice(q)}`;
  res.statusCode = 301;
  res.setHeader('Location', location);
  const body = '<!DOCTYPE html><title>Error 301</title><p>Error 301.\r\n';
  res.setHeader('Content-Type', 'text/html');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

/** Sends the opened file; returns true when the file handle now belongs to a stream that closes it. */
function sendFile(ctx: RequestContext, fh: fsp.FileHandle, st: Stats, type: string): boolean {
  const req = ctx.req;
  const res = ctx.res;
  const mtimeSec = Math.floor(st.mtimeMs / 1000);
  const etag = `"${mtimeSec.toString(16)}-${st.size.toString(16)}"`;
  const lastModified = new Date(mtimeSec * 1000).toUTCString();
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', lastModified);
  res.setHeader('Content-Type', type);
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
  const stream = fh.createReadStream({ start, end, autoClose: true });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
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
