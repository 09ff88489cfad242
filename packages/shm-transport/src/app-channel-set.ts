import { EventEmitter } from 'events';
import { AppChannel, AppRequest } from './app-channel';
import { ShmError, ShmErrorCode } from './errors';
import { closeQuietly, FdSocket } from './fd-socket';
import type { ShmLogger } from './types';

/** Connection ids of channel n are n * 2^32 + the router's u32 id (PROTOCOL.md "Several routers"). */
const CONNECTION_SPAN = 2 ** 32;

/** Options of {@link AppChannelSet}. */
export interface AppChannelSetOptions {
  /** The first channel (WARDEN_CHANNEL), if any. */
  channel?: AppChannel | null;
  /** The control socket from wardend's main process (WARDEN_CONTROL): the set takes ownership of the fd. */
  controlFd?: number;
  /** Where malformed control messages and failed channels are reported (pino's `error`/`debug` fit). */
  logger?: ShmLogger;
}

interface Member {
  channel: AppChannel;
  /** The channel's ordinal in the set (0 = the first): its connection ids start at ordinal * 2^32. */
  ordinal: number;
  shutdown: boolean;
}

/**
 * The app end of every channel of one app process: one per wardend router (PROTOCOL.md "Several routers"). It has
 * `AppChannel`'s surface for an app runtime — events `'request'` (AppRequest), `'shutdown'`, `'close'` (err?),
 * `'connection-close'` (id), and `'channel-close'` (ordinal, err?) when one channel of the set closed — so a runtime
 * serves all routers as it served one channel.
 *
 * - Connection ids are unique across the set: channel n's ids are n * 2^32 + the router's id (the first channel's
 *   are the router's own). Every connection of a closed channel is gone with it (`'channel-close'`; no
 *   `'connection-close'` follows for them); {@link channelOf} maps an id to its channel's ordinal.
 * - A channel that closes (its router died) is dropped; its in-flight requests get 'abort'; the others serve on.
 *   With a control socket the set then waits for channels from it, and closes (`'close'`) when the control socket
 *   closes (wardend's main is gone: `WARDEN_ERR_SHM_PEER_GONE`). Without one (an older wardend), the one channel's
 *   close is the set's close, as for a bare AppChannel.
 * - `'shutdown'` is emitted once: on the control message `{"op":"shutdown"}`, or when every open channel has received
 *   SHUTDOWN. After it, channels from the control socket are closed at once, and the set closes when its last
 *   channel did.
 */
export class AppChannelSet extends EventEmitter {
  private readonly members = new Map<AppChannel, Member>();
  private readonly control: FdSocket | null;
  private readonly log?: ShmLogger;
  private nextOrdinal = 0;
  private ready: { connections?: boolean; upgrade?: boolean } | null = null;
  private shutdownEmitted = false;
  private closed = false;
  private features: AppChannel | null = null;

  /**
   * Opens the set that WARDEN_CHANNEL (the first channel, see PROTOCOL.md) and WARDEN_CONTROL (`v1:fd=N`, the control
   * socket) describe, or returns null when neither is set (not running under wardend). A WARDEN_CONTROL that is not
   * `v<N>:...` is the warden CLI's (see {@link isControlSpec}) and ignored. Throws ShmError WARDEN_ERR_SHM_SETUP when
   * one is set but unusable.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, options: { logger?: ShmLogger } = {}): AppChannelSet | null {
    const control = env.WARDEN_CONTROL;
    const hasControl = AppChannelSet.isControlSpec(control);
    let controlFd: number | undefined;
    if (hasControl) {
      const m = /^v1:fd=(\d+)$/.exec(control);
      if (!m) throw new ShmError(ShmErrorCode.BAD_SETUP, `WARDEN_CONTROL="${control}" is not of the form v1:fd=<socket>`);
      controlFd = Number(m[1]);
    }
    const channel = AppChannel.fromEnv(env);
    if (channel === null && !hasControl) return null;
    try {
      return new AppChannelSet({ channel, controlFd, logger: options.logger });
    } catch (e) {
      channel?.close();
      throw new ShmError(ShmErrorCode.BAD_SETUP, `cannot use WARDEN_CONTROL="${control}": ${(e as Error).message}`);
    }
  }

  /** The control message main sends with a channel's two fds [memfd, doorbell] (PROTOCOL.md section 8). */
  static readonly CONTROL_CHANNEL = '{"op":"channel"}';
  /** The control message that shuts the whole app process down gracefully. */
  static readonly CONTROL_SHUTDOWN = '{"op":"shutdown"}';

  /**
   * Whether a WARDEN_CONTROL value is this protocol's (`v<N>:...`, PROTOCOL.md section 8). The `warden` CLI reads the
   * same variable as the control API's address (`unix:/path`, `IP:port`): a user who exported it for the CLI runs
   * apps outside wardend with it set, and those must not take it for a control socket.
   */
  static isControlSpec(value: string | undefined): value is string {
    return value !== undefined && /^v\d+:/.test(value);
  }

  /** The environment that names the control socket at `fd` in the app process (`WARDEN_CONTROL=v1:fd=<fd>`). */
  static controlEnv(fd: number): Record<string, string> {
    return { WARDEN_CONTROL: `v1:fd=${fd}` };
  }

  constructor(options: AppChannelSetOptions = {}) {
    super();
    this.log = options.logger;
    this.control =
      options.controlFd === undefined
        ? null
        : new FdSocket(
            options.controlFd,
            (payload, fds) => this.onControl(payload, fds),
            (err) => this.onControlClose(err),
          );
    if (options.channel) this.add(options.channel);
  }

  /** Which channel (its ordinal in the set, 0 = the first) a connection id of this set belongs to. */
  static channelOf(connectionId: number): number {
    return Math.floor(connectionId / CONNECTION_SPAN);
  }

  /**
   * Adds an open channel to the set (the control socket does this for channels from wardend's main): its requests are
   * served with the others, and it gets READY at once when {@link markReady} was called. A channel after the
   * 'shutdown' (or once the set is closed) is closed at once.
   */
  add(channel: AppChannel): void {
    if (this.closed || this.shutdownEmitted) {
      channel.close();
      return;
    }
    const member: Member = { channel, ordinal: this.nextOrdinal++, shutdown: false };
    channel._connectionBase = member.ordinal * CONNECTION_SPAN;
    this.members.set(channel, member);
    this.features ??= channel;
    channel.on('request', (r: AppRequest) => this.emit('request', r));
    channel.on('connection-close', (id: number) => this.emit('connection-close', id));
    channel.on('shutdown', () => {
      member.shutdown = true;
      this.checkShutdown();
    });
    channel.on('close', (err?: Error) => this.onChannelClose(member, err));
    if (this.ready !== null) channel.markReady(this.ready);
  }

  /** Channels open now. */
  get size(): number {
    return this.members.size;
  }

  /**
   * READY on every channel, and on every channel added later at once (see `AppChannel.markReady`: `connections`,
   * connection ids; `upgrade`, upgrade requests).
   */
  markReady(capabilities: { connections?: boolean; upgrade?: boolean } = {}): void {
    this.ready = { ...capabilities };
    for (const ch of this.members.keys()) ch.markReady(this.ready);
  }

  /** Open request streams over all channels. */
  get activeStreams(): number {
    let n = 0;
    for (const ch of this.members.keys()) n += ch.activeStreams;
    return n;
  }

  /** The first channel's `statusLineExtensions` (every router of one wardend is the same build). */
  get statusLineExtensions(): boolean {
    return this.features?.statusLineExtensions ?? false;
  }

  /** The first channel's `connectionIds`. */
  get connectionIds(): boolean {
    return this.features?.connectionIds ?? false;
  }

  /** The first channel's `upgrades`. */
  get upgrades(): boolean {
    return this.features?.upgrades ?? false;
  }

  /** The first channel's `trailersSupported`. */
  get trailersSupported(): boolean {
    return this.features?.trailersSupported ?? false;
  }

  /** The first channel's `earlyHints`. */
  get earlyHints(): boolean {
    return this.features?.earlyHints ?? false;
  }

  /** Closes every channel and the control socket; emits 'close' (no error). */
  close(): void {
    this.closeWith(undefined);
  }

  private closeWith(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.control?.close();
    for (const ch of [...this.members.keys()]) ch.close();
    this.emit('close', err);
  }

  private onChannelClose(member: Member, err?: Error): void {
    if (!this.members.delete(member.channel)) return;
    if (this.closed) return;
    if (this.control === null) {
      // An older wardend: one channel, whose close is the process's end, exactly as with a bare AppChannel.
      this.closeWith(err);
      return;
    }
    if (err) this.log?.error({ err, channel: member.ordinal }, 'a channel of this app process closed; serving the others');
    this.emit('channel-close', member.ordinal, err);
    if (this.shutdownEmitted && this.members.size === 0) this.closeWith(undefined);
    else this.checkShutdown();
  }

  private checkShutdown(): void {
    if (this.shutdownEmitted || this.members.size === 0) return;
    for (const m of this.members.values()) if (!m.shutdown) return;
    this.emitShutdown();
  }

  private emitShutdown(): void {
    if (this.shutdownEmitted || this.closed) return;
    this.shutdownEmitted = true;
    this.emit('shutdown');
  }

  private onControl(payload: Buffer, fds: number[]): void {
    const kind = classifyControl(payload, fds.length);
    if (kind === 'channel' && !this.closed && !this.shutdownEmitted) {
      let channel: AppChannel;
      try {
        channel = AppChannel.open(fds[0], fds[1]); // owns both fds, also when it throws
      } catch (err) {
        this.log?.error({ err }, 'a channel from the control socket cannot be opened; ignored');
        return;
      }
      this.add(channel);
      return;
    }
    for (const fd of fds) closeQuietly(fd);
    if (kind === 'malformed') this.log?.error({ payload: payload.subarray(0, 200).toString('utf8'), fds: fds.length }, 'malformed control message ignored');
    else if (kind === 'shutdown') this.emitShutdown();
    // 'ignored': another op, a newer wardend's (forward compatible).
  }

  private onControlClose(err?: Error): void {
    if (this.closed) return;
    const why = err ? err.message : 'EOF';
    this.closeWith(new ShmError(ShmErrorCode.PEER_GONE, `wardend closed the control socket (${why})`));
  }
}

/**
 * @internal What a control message is (PROTOCOL.md section 8; test/vectors/control.json): 'channel' (a JSON object
 * with op "channel" and exactly 2 fds), 'shutdown', 'ignored' (another op) or 'malformed'.
 */
export function classifyControl(payload: Buffer, fdCount: number): 'channel' | 'shutdown' | 'ignored' | 'malformed' {
  let msg: unknown;
  try {
    msg = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'malformed';
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return 'malformed';
  const op = (msg as { op?: unknown }).op;
  if (typeof op !== 'string') return 'malformed';
  if (op === 'channel') return fdCount === 2 ? 'channel' : 'malformed';
  if (op === 'shutdown') return 'shutdown';
  return 'ignored';
}
