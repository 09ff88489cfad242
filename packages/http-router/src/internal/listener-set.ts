import { closeSync } from 'fs';
import type { Server as NetServer, Socket } from 'net';
import type { CompiledConfig, CompiledListener } from './compiled-config';
import type { ListenerEntry } from './listener-entry';
import type { ListenerHost } from './ports';
import { endTunnel } from './tunnel-exchange';

/** What a listener set needs from the router: making a listener's servers, and closing its connections. */
export interface ListenerFactory {
  /** The servers of a new listener (not listening yet). */
  create(l: CompiledListener, compiled: CompiledConfig): ListenerEntry;
  /** A node:http connection of a listener a reconfiguration removed: answer it Unit's 408 if it is idle. */
  answerIdle(sock: Socket): void;
  /** A lean connection of a closing listener: closed if idle (`answer`: with Unit's 408 first). */
  closeLeanIdle(sock: Socket, answer: boolean): void;
  /** Accepting on a committed listener's host-bound socket failed (the listener serves nothing; logged). */
  acceptFailed(entry: ListenerEntry, err: Error): void;
}

/**
 * The bound listeners by canonical address: binding those a config adds (prepare), switching each to the committed
 * config and draining those it removed (install), and closing them all.
 */
export class ListenerSet {
  private readonly entries = new Map<string, ListenerEntry>();
  /** Listeners removed by a reconfiguration whose last connections are still finishing. */
  private readonly draining = new Set<ListenerEntry>();

  constructor(
    private readonly factory: ListenerFactory,
    private readonly host: ListenerHost | null = null,
  ) {}

  /**
   * Binds the listeners of `compiled` not bound yet; returns them (for rollback). On a listen error, what this call
   * bound is closed and the error thrown. With a host, the socket the host bound is only accepted on at install():
   * the socket may be shared with other routers that serve it already (a router that starts again, or one more
   * router), and a connection this router took before its config is committed could only be answered 503.
   */
  async bind(compiled: CompiledConfig): Promise<ListenerEntry[]> {
    const added: ListenerEntry[] = [];
    try {
      for (const l of compiled.listeners.values()) {
        if (this.entries.has(l.key)) continue;
        const entry = this.factory.create(l, compiled);
        added.push(entry);
        if (this.host !== null)
          entry.pendingFd = await this.host.listen(l); // a CompiledListener is a ListenSpec
        else await listen(entry.server, l, -1);
        this.entries.set(l.key, entry);
      }
    } catch (err) {
      for (const e of added) {
        this.entries.delete(e.listener.key);
        dropPending(e);
        e.server.close();
        e.http.close();
      }
      throw err;
    }
    return added;
  }

  /** Undoes bind(). */
  async unbind(added: ListenerEntry[]): Promise<void> {
    await Promise.all(
      added.map(async (e) => {
        this.entries.delete(e.listener.key);
        await this.closeEntry(e, false);
      }),
    );
  }

  /**
   * Switches every listener to its part of the committed config (`update` sets what depends on the config); those
   * it no longer has stop accepting and close once their connections finished.
   */
  install(compiled: CompiledConfig, update: (entry: ListenerEntry, l: CompiledListener) => void): void {
    for (const [key, entry] of this.entries) {
      const l = compiled.listeners.get(key);
      if (!l) {
        this.entries.delete(key);
        entry.closing = true;
        entry.live = false;
        this.draining.add(entry);
        void this.closeEntry(entry, true).then(() => this.draining.delete(entry));
        continue;
      }
      const prevTls = entry.listener.tls;
      if (l.tls !== null && prevTls !== null && l.tls.signature === prevTls.signature) l.tls = prevTls; // keeps sessions
      entry.listener = l;
      entry.config = compiled;
      entry.live = true;
      update(entry, l);
      if (entry.pendingFd !== null) {
        const fd = entry.pendingFd;
        entry.pendingFd = null;
        // A socket main bound and listens on: libuv only starts accepting (no error path but a closed fd).
        listen(entry.server, l, fd).catch((err: Error) => this.factory.acceptFailed(entry, err));
      }
    }
  }

  /** Canonical keys of the listeners in use. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** The bound address of each listener, by its config name (useful with port 0). */
  addresses(): Record<string, { address: string; port: number }> {
    const out: Record<string, { address: string; port: number }> = {};
    for (const e of this.entries.values()) {
      const a = e.server.address();
      if (a && typeof a === 'object') out[e.listener.name] = { address: a.address, port: a.port };
    }
    return out;
  }

  /** Stops accepting everywhere; connections still open after `graceMs` are dropped. */
  async close(graceMs: number): Promise<void> {
    const entries = [...this.entries.values(), ...this.draining];
    this.entries.clear();
    this.draining.clear();
    await Promise.all(
      entries.map(async (e) => {
        e.live = false;
        // Open tunnels (WebSockets) never finish by themselves: they end now rather than at the grace.
        for (const sock of e.sockets) endTunnel(sock);
        const timer = setTimeout(() => {
          for (const sock of e.sockets) sock.destroy();
        }, graceMs);
        timer.unref();
        await this.closeEntry(e, false);
        clearTimeout(timer);
      }),
    );
  }

  /**
   * Stops accepting; idle connections close now, busy ones after their current response. Resolves once the last
   * connection closed. `answer`: idle connections get Unit's 408 first (a listener removed by a reconfiguration, as
   * Unit does); else they close silently (shutdown, rollback).
   */
  private closeEntry(entry: ListenerEntry, answer: boolean): Promise<void> {
    entry.closing = true;
    dropPending(entry);
    if (entry.server.listening) entry.server.close();
    // Before node:http's close drops its idle connections: the answer is written first.
    if (answer) for (const sock of entry.sockets) this.factory.answerIdle(sock);
    entry.http.close(); // stops node:http's connection checks and closes its idle connections
    for (const sock of entry.handshakes.values()) sock.destroy(); // TLS handshakes not done yet
    entry.handshakes.clear();
    for (const sock of entry.sockets) this.factory.closeLeanIdle(sock, answer);
    return entry.whenEmpty();
  }
}

/** Closes the fd of a listener the host bound that never started accepting (rollback, or closed before commit). */
function dropPending(entry: ListenerEntry): void {
  if (entry.pendingFd === null) return;
  closeSync(entry.pendingFd);
  entry.pendingFd = null;
}

/** Starts accepting: on `fd` (a socket the host bound), or binds `l` itself (`fd` -1). */
function listen(server: NetServer, l: CompiledListener, fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    if (fd >= 0) server.listen({ fd });
    else if (l.path !== null) {
      // A path socket is made readable and writable by all (mode 0666), as Unit makes its unix listeners.
      const all = l.path.charCodeAt(0) !== 0;
      server.listen({ path: l.path, backlog: l.backlog, exclusive: true, readableAll: all, writableAll: all });
    } else server.listen({ host: l.host, port: l.port, backlog: l.backlog, ipv6Only: l.ipv6Only, exclusive: true });
  });
}
