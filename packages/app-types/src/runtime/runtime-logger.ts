import type pino from 'pino';

let logger: pino.Logger | undefined;

/**
 * The runtime's logger in the app process: JSON lines on stderr (wardend captures them), level from
 * WARDEN_NODE_LOG_LEVEL (default info). pino is loaded on first use, so the preload costs an app nothing until the
 * runtime has something to say.
 */
export function runtimeLogger(): pino.Logger {
  if (!logger) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const create = require('pino') as typeof pino;
    logger = create({ name: 'warden-node-runtime', level: process.env.WARDEN_NODE_LOG_LEVEL ?? 'info' }, create.destination(2));
  }
  return logger;
}
