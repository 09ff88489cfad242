const TABLE: Record<string, string[]> = {
  'text/html': ['.html', '.htm', '.shtml'],
  'text/css': ['.css'],
  'text/plain': ['.txt', '.text', '.log', '.conf', '.ini'],
  'text/csv': ['.csv'],
  'text/markdown': ['.md', '.markdown'],
  'text/xml': ['.xml'],
  'text/javascript': ['.js', '.mjs', '.cjs'],
  'application/json': ['.json', '.map'],
  'application/wasm': ['.wasm'],
  'application/pdf': ['.pdf'],
  'application/zip': ['.zip'],
  'application/gzip': ['.gz', '.tgz'],
  'application/x-tar': ['.tar'],
  'application/x-yaml': ['.yaml', '.yml'],
  'application/rss+xml': ['.rss'],
  'application/atom+xml': ['.atom'],
  'application/xhtml+xml': ['.xhtml'],
  'application/octet-stream': ['.bin', '.exe', '.dll', '.iso', '.img'],
  'image/png': ['.png'],
  'image/jpeg': ['.jpg', '.jpeg'],
  'image/gif': ['.gif'],
  'image/svg+xml': ['.svg', '.svgz'],
  'image/x-icon': ['.ico'],
  'image/webp': ['.webp'],
  'image/avif': ['.avif'],
  'image/bmp': ['.bmp'],
  'image/tiff': ['.tif', '.tiff'],
  'font/woff': ['.woff'],
  'font/woff2': ['.woff2'],
  'font/ttf': ['.ttf'],
  'font/otf': ['.otf'],
  'audio/mpeg': ['.mp3'],
  'audio/ogg': ['.ogg', '.oga'],
  'audio/wav': ['.wav'],
  'audio/flac': ['.flac'],
  'video/mp4': ['.mp4', '.m4v'],
  'video/webm': ['.webm'],
  'video/ogg': ['.ogv'],
  'video/quicktime': ['.mov'],
};

/** The built-in extension → MIME type table (extensions lower-case, with the dot). */
export function defaultMimeTypes(): Map<string, string> {
  const m = new Map<string, string>();
  for (const [type, exts] of Object.entries(TABLE)) for (const e of exts) m.set(e, type);
  return m;
}
