import { jp, RouterConfigError } from './errors';

/**
 * Unit 1.35's built-in table (src/nxt_http_static.c, nxt_http_static_mtypes_init): type → extensions. A file whose
 * extension is not here, nor in `settings.http.static.mime_types`, is served without Content-Type, as Unit does.
 */
const UNIT_TABLE: Array<[string, string[]]> = [
  ['text/html', ['.html', '.htm']],
  ['text/css', ['.css']],
  ['image/svg+xml', ['.svg']],
  ['image/webp', ['.webp']],
  ['image/png', ['.png']],
  ['image/apng', ['.apng']],
  ['image/jpeg', ['.jpeg', '.jpg']],
  ['image/gif', ['.gif']],
  ['image/x-icon', ['.ico']],
  ['image/avif', ['.avif']],
  ['image/avif-sequence', ['.avifs']],
  ['font/woff', ['.woff']],
  ['font/woff2', ['.woff2']],
  ['font/otf', ['.otf']],
  ['font/ttf', ['.ttf']],
  ['text/plain', ['.txt']],
  ['text/markdown', ['.md']],
  ['text/x-rst', ['.rst']],
  ['application/javascript', ['.js']],
  ['application/json', ['.json']],
  ['application/xml', ['.xml']],
  ['application/rss+xml', ['.rss']],
  ['application/atom+xml', ['.atom']],
  ['application/pdf', ['.pdf']],
  ['application/zip', ['.zip']],
  ['audio/mpeg', ['.mp3']],
  ['audio/ogg', ['.ogg']],
  ['audio/midi', ['.midi', '.mid']],
  ['audio/flac', ['.flac']],
  ['audio/aac', ['.aac']],
  ['audio/wav', ['.wav']],
  ['video/mpeg', ['.mpeg', '.mpg']],
  ['video/mp4', ['.mp4']],
  ['video/webm', ['.webm']],
  ['video/x-msvideo', ['.avi']],
  ['application/octet-stream', ['.exe', '.bin', '.dll', '.iso', '.img', '.msi', '.deb', '.rpm']],
  ['application/x-httpd-php', ['.php']],
];

/** The built-in table as a map from lower-case key (`.ext`, or a whole file name) to MIME type. */
export function defaultMimeTypes(): Map<string, string> {
  const m = new Map<string, string>();
  for (const [type, exts] of UNIT_TABLE) for (const e of exts) m.set(e, type);
  return m;
}

/**
 * The key a file's type is looked up by, as Unit takes it: from the last `.` of the file name on (`.gz` of
 * `a.tar.gz`, `.htaccess` of `.htaccess`), or the whole file name when it has no `.` (`README`); lower-cased, since
 * Unit compares keys without case.
 */
export function mimeKey(file: string): string {
  for (let i = file.length - 1; i >= 0; i--) {
    const c = file.charCodeAt(i);
    if (c === 46 /* . */) return file.slice(i).toLowerCase();
    if (c === 47 /* / */) return file.slice(i + 1).toLowerCase();
  }
  return file.toLowerCase();
}

/** The MIME type of a file name, '' when none is known (the response then has no Content-Type). */
export function mimeTypeOf(file: string, types: Map<string, string>): string {
  return types.get(mimeKey(file)) ?? '';
}

/**
 * Adds `settings.http.static.mime_types` (type → string or array of extensions and file names) to `types`, replacing
 * built-in entries, with Unit's validation: each entry a non-empty string, and no key (compared without case) under
 * two types of this object.
 */
export function addMimeTypes(v: unknown, path: string, types: Map<string, string>): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RouterConfigError('The "mime_types" value must be an object.', path);
  const seen = new Map<string, string>();
  for (const [type, exts] of Object.entries(v as Record<string, unknown>)) {
    const tp = jp(path, type);
    if (typeof exts !== 'string' && !Array.isArray(exts)) {
      throw new RouterConfigError(`The "${type}" value must be a string or an array.`, tp);
    }
    const list: unknown[] = Array.isArray(exts) ? exts : [exts];
    list.forEach((e, i) => {
      const at = Array.isArray(exts) ? jp(tp, i) : tp;
      if (typeof e !== 'string') throw new RouterConfigError(`The "${type}" MIME type array must contain only strings.`, at);
      if (e === '') throw new RouterConfigError(`An empty file extension for the "${type}" MIME type.`, at);
      const key = e.toLowerCase();
      const dup = seen.get(key);
      if (dup !== undefined) {
        throw new RouterConfigError(`The "${e}" file extension has been declared for "${dup}" and "${type}" MIME types at the same time.`, at);
      }
      seen.set(key, type);
      types.set(key, type);
    });
  }
}
