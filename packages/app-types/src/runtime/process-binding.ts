import type * as http from 'http';
import type * as Transport from '@warden/shm-transport';
import { ChannelBinding } from './channel-server';
import type { ChannelEndpoint } from './channel-types';
import { runtimeLogger } from './runtime-logger';

// The channel description is taken from the environment once, when the runtime loads, and removed from it: the
// channel's fds belong to this process only (the transport marks them close-on-exec), so a child it starts — e.g.
// `child_process.fork()`, which repeats `--require <preload>` and whose fd 3 is its IPC pipe — must not try to
// open them; without the variable such a child listens normally. WARDEN_CONTROL (the socket over which wardend's
// main passes the channels of its other routers, PROTOCOL.md "Several routers") likewise.
// A WARDEN_CONTROL that is not `v<N>:...` is the warden CLI's control API address (a user exported it for the CLI):
// not ours, left alone (the same rule as AppChannelSet.isControlSpec, here without loading the transport).
const CHANNEL_SPEC: string | undefined = process.env.WARDEN_CHANNEL || undefined;
const CONTROL_SPEC: string | undefined = /^v\d+:/.test(process.env.WARDEN_CONTROL ?? '') ? process.env.WARDEN_CONTROL : undefined;
delete process.env.WARDEN_CHANNEL;
if (CONTROL_SPEC !== undefined) delete process.env.WARDEN_CONTROL;
const UNDER_WARDEN = CHANNEL_SPEC !== undefined || CONTROL_SPEC !== undefined;

let binding: ChannelBinding | null | undefined;

/** True when this process was started by wardend (WARDEN_CHANNEL or WARDEN_CONTROL was set when the runtime loaded). */
export function underWarden(): boolean {
  return UNDER_WARDEN;
}

/** What the environment said, for error messages. */
function spec(): string {
  return [CHANNEL_SPEC && `WARDEN_CHANNEL=${CHANNEL_SPEC}`, CONTROL_SPEC && `WARDEN_CONTROL=${CONTROL_SPEC}`].filter(Boolean).join(' ');
}

/**
 * The process's binding to its channels (one per wardend router: an AppChannelSet), opened on first use (the first
 * `listen()`), so that a script that never listens does not hold them open. Null outside wardend. Throws when
 * WARDEN_CHANNEL or WARDEN_CONTROL is set but cannot be opened.
 */
export function processBinding(): ChannelBinding | null {
  if (binding !== undefined) return binding;
  if (!UNDER_WARDEN) {
    binding = null;
    return binding;
  }
  // Loaded here, not at the top: outside wardend the preload must not load the transport (nor its native part).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const transport = require('@warden/shm-transport') as typeof Transport;
  const channel: ChannelEndpoint | null = transport.AppChannelSet.fromEnv(
    { WARDEN_CHANNEL: CHANNEL_SPEC, WARDEN_CONTROL: CONTROL_SPEC },
    // pino is loaded only when something is logged.
    { logger: { error: (o, m) => runtimeLogger().error(o, m), debug: (o, m) => runtimeLogger().debug(o, m) } },
  );
  binding = channel ? new ChannelBinding(channel) : null;
  return binding;
}

/**
 * `server.listen(...args)` under wardend: served over the channel. Returns null outside wardend (the caller then
 * listens normally). When the channel cannot be opened the server emits 'error' (as for EADDRINUSE).
 */
export function listenOverChannel(server: http.Server, args: unknown[]): http.Server | null {
  if (!UNDER_WARDEN) return null;
  let b: ChannelBinding | null;
  try {
    b = processBinding();
  } catch (err) {
    const error = Object.assign(new Error(`Cannot open the Warden channel (${spec()}): ${(err as Error).message}`), {
      code: 'WARDEN_ERR_NODE_CHANNEL',
      cause: err,
    });
    process.nextTick(() => server.emit('error', error));
    return server;
  }
  return b ? b.listen(server, args) : null;
}
