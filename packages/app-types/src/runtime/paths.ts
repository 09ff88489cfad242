import * as path from 'path';

// Both from dist/runtime/ (built) and src/runtime/ (ts-jest) this resolves into the package's dist/: the app process
// always runs compiled JavaScript.
const DIST_RUNTIME = path.resolve(__dirname, '..', '..', 'dist', 'runtime');

/**
 * Absolute path of the compiled Node preload. `node --require PRELOAD_PATH app.js` serves an unmodified
 * `http.createServer(...).listen(...)` app over wardend's channel (CommonJS and ES modules alike).
 */
export const PRELOAD_PATH = path.join(DIST_RUNTIME, 'preload.js');

/** Absolute path of the compiled explicit module (`createServer`, `Server`, `IncomingMessage`, `ServerResponse`). */
export const HTTP_MODULE_PATH = path.join(DIST_RUNTIME, 'http.js');
