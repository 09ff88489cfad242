// WebSocket-Node's `WebSocketServer`, which Unit's module exports as `server`: it listens for 'upgrade' on one or more
// http servers, turns each upgrade into a WebSocketRequest for the app ('request'), or accepts it itself
// (`autoAcceptConnections`), and keeps the list of open connections ('connect', 'close', broadcast, shutDown).
import { EventEmitter } from 'events';
import type { IncomingMessage } from 'http';
import { DEFAULT_CONFIG, type ResolvedConfig, type WebSocketServerConfig } from './config';
import type { UpgradedSocket, WebSocketConnection } from './connection';
import { WebSocketRequest } from './request';

/** A WebSocket server mounted on http servers. */
export class WebSocketServer extends EventEmitter {
  config!: ResolvedConfig;
  /** The open connections, in the order they were accepted. */
  connections: WebSocketConnection[] = [];
  /** Requests handed to the app ('request') and not accepted or rejected yet. */
  pendingRequests: WebSocketRequest[] = [];

  private readonly onUpgrade = (req: IncomingMessage, socket: UpgradedSocket, head?: Buffer): void => this.handleUpgrade(req, socket, head);
  private readonly onRequestAccepted = (connection: WebSocketConnection): void => this.handleRequestAccepted(connection);
  private readonly onRequestResolved = (request: WebSocketRequest): void => this.handleRequestResolved(request);

  constructor(config?: Partial<WebSocketServerConfig>) {
    super();
    if (config) this.mount(config);
  }

  /** Applies `config` (defaults for what it leaves out) and listens for 'upgrade' on `config.httpServer`. */
  mount(config: Partial<WebSocketServerConfig>): void {
    const httpServer = config.httpServer;
    if (!httpServer) throw new Error('You must specify an httpServer on which to mount the WebSocket server.');
    this.config = { ...DEFAULT_CONFIG, ...config, httpServer: Array.isArray(httpServer) ? httpServer : [httpServer] };
    for (const server of this.config.httpServer) server.on('upgrade', this.onUpgrade);
  }

  /** Stops listening for 'upgrade'; open connections stay open. */
  unmount(): void {
    for (const server of this.config.httpServer) server.removeListener('upgrade', this.onUpgrade);
  }

  /** Closes every open connection (1000) and rejects every pending request (503). */
  closeAllConnections(): void {
    for (const connection of [...this.connections]) connection.close();
    for (const request of [...this.pendingRequests]) process.nextTick(() => request.reject(503));
  }

  /** Sends a Buffer as binary, anything else as text, to every open connection. */
  broadcast(data: unknown): void {
    if (Buffer.isBuffer(data)) this.broadcastBytes(data);
    else if (data !== null && data !== undefined && typeof (data as { toString?: unknown }).toString === 'function') this.broadcastUTF(data);
  }

  broadcastUTF(utfData: unknown): void {
    for (const connection of this.connections) connection.sendUTF(utfData);
  }

  broadcastBytes(binaryData: Buffer): void {
    for (const connection of this.connections) connection.sendBytes(binaryData);
  }

  /** `unmount()` and `closeAllConnections()`. */
  shutDown(): void {
    this.unmount();
    this.closeAllConnections();
  }

  /** The 'upgrade' listener (public as in WebSocket-Node: a server may be fed upgrades by hand). */
  handleUpgrade(req: IncomingMessage, socket: UpgradedSocket, head?: Buffer): void {
    const request = new WebSocketRequest(socket, req, this.config, head);
    try {
      request.readHandshake();
    } catch (err) {
      const e = err as Error & { httpCode?: number; headers?: Record<string, string> };
      request.reject(e.httpCode ?? 400, e.message, e.headers);
      return;
    }
    this.pendingRequests.push(request);
    request.once('requestAccepted', this.onRequestAccepted);
    request.once('requestResolved', this.onRequestResolved);
    if (this.config.autoAcceptConnections) request.accept(request.requestedProtocols[0], request.origin);
    else if (this.listenerCount('request') > 0) this.emit('request', request);
    else request.reject(404, 'No handler is configured to accept the connection.');
  }

  private handleRequestAccepted(connection: WebSocketConnection): void {
    connection.once('close', (reasonCode: number, description: string | null) => {
      const index = this.connections.indexOf(connection);
      if (index !== -1) this.connections.splice(index, 1);
      this.emit('close', connection, reasonCode, description);
    });
    this.connections.push(connection);
    this.emit('connect', connection);
  }

  private handleRequestResolved(request: WebSocketRequest): void {
    const index = this.pendingRequests.indexOf(request);
    if (index !== -1) this.pendingRequests.splice(index, 1);
  }
}
