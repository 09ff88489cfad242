import pino from 'pino';

let logger: pino.Logger | undefined;

/** The runtime's logger in the app process: JSON lines on stderr (wardend captures them), created on first use. */
export function runtimeLogger(): pino.Logger {
  logger ??= pino({ name: 'warden-node-runtime', level: process.env.WARDEN_NODE_LOG_LEVEL ?? 'info' }, pino.destination(2));
  return logger;
}
