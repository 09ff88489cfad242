import type * as http from 'http';
import type * as Transport from '@warden/shm-transport';
import { ChannelBinding } from './channel-server';
import type { ChannelEndpoint } from './channel-types';

let binding: ChannelBinding | null | undefined;

/** True when this process was started by wardend (WARDEN_CHANNEL is set). */
export function underWarden(env: NodeJS.ProcessEnv = process.env): boolean {
  return typeof env.WARDEN_CHANNEL === 'string' && env.WARDEN_CHANNEL.length > 0;
}

/**
 * The process's binding to its channel, opened on first use (the first `listen()`), so that a script that never
 * listens does not hold the channel open. Null outside wardend. Throws when WARDEN_CHANNEL is set but the channel
 * cannot be opened.
 */
export function processBinding(): ChannelBinding | null {
  if (binding !== undefined) return binding;
  if (!underWarden()) {
    binding = null;
    return binding;
  }
  // Loaded here, not at the top: outside wardend the preload must not load the transport (nor its native part).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const transport = require('@warden/shm-transport') as typeof Transport;
  const channel: ChannelEndpoint | null = transport.AppChannel.fromEnv(process.env);
  binding = channel ? new ChannelBinding(channel) : null;
  return binding;
}

/**
 * `server.listen(...args)` under wardend: served over the channel. Returns null outside wardend (the caller then
 * listens normally). When the channel cannot be opened the server emits 'error' (as for EADDRINUSE).
 */
export function listenOverChannel(server: http.Server, args: unknown[]): http.Server | null {
  if (!underWarden()) return null;
  let b: ChannelBinding | null;
  try {
    b = processBinding();
  } catch (err) {
    const error = Object.assign(
      new Error(`Cannot open the Warden channel (WARDEN_CHANNEL=${process.env.WARDEN_CHANNEL}): ${(err as Error).message}`),
      { code: 'WARDEN_ERR_NODE_CHANNEL', cause: err },
    );
    process.nextTick(() => server.emit('error', error));
    return server;
  }
  return b ? b.listen(server, args) : null;
}
