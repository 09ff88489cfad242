/** What the router sends to the app for one request (one REQUEST frame). */
export interface RequestHead {
  /** Request method as received, e.g. "GET". */
  method: string;
  /** Request-target as received ("/a?b=c"). */
  target: string;
  /** "1.1", "1.0", "2.0". */
  httpVersion: string;
  /** Flat [name, value, name, value, ...] like IncomingMessage.rawHeaders (latin1). */
  headers: string[];
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** The client connection is TLS. */
  tls: boolean;
  /**
   * An upgrade request (REQUEST flag UPGRADE): the router-to-app direction carries the client's bytes after the head
   * (contentLength -1), and a 101 answer turns the stream into a two-way tunnel. Decoders always set it.
   */
  upgrade?: boolean;
  /** Body length; -1 = unknown (chunked). */
  contentLength: number;
  /**
   * Id of the client connection (REQUEST `arg`, PROTOCOL.md "Connections"): the same for every request of one
   * keep-alive connection, non-zero only towards an app that announced CAP_CONNECTIONS; 0 or absent = not told.
   */
  connection?: number;
}

/** The part of a pino logger this package uses (a pino.Logger fits). */
export interface ShmLogger {
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** What both kinds of sink receive: body chunks from the peer, their end, and 'drain' for our own writes. */
export interface StreamSink {
  /** A body chunk ('data'); `last` = the peer flagged it as the end of the body (onEnd follows at once). */
  onData(chunk: Buffer, last: boolean): void;
  /**
   * A body chunk as a view of the channel's memory instead of a copy (onData): valid only during the call, since the
   * ring reuses those bytes once it returns, so whatever the sink keeps it must copy. Offered for chunks over 1 KiB
   * while the stream flows; a sink without it gets every chunk copied, through onData.
   */
  onDataView?(view: Buffer, last: boolean): void;
  /** The body is complete ('end'). */
  onEnd(): void;
  /** Our side may write again ('drain'). */
  onDrain(): void;
}

/**
 * Callback slots for a RouterStream's response (see `RouterStream.setSink`): one object per request instead of five
 * EventEmitter listeners. Called in the same situations as the events of the same name.
 */
export interface RouterStreamSink extends StreamSink {
  /**
   * The response head ('response'). `reason`: the app's own reason phrase (undefined: the standard one); `http10`:
   * answer with an HTTP/1.0 status line.
   */
  onResponse(status: number, headers: string[], reason?: string, http10?: boolean): void;
  /** The stream failed ('error'): the app aborted it, or the channel closed. */
  onError(err: Error): void;
  /** Response trailers ('trailers'), after the last body chunk and before the end (TRAILERS frame). */
  onTrailers?(headers: string[]): void;
  /** A 1xx response before the final one ('info'), e.g. 103 Early Hints (INFO frame). */
  onInfo?(status: number, headers: string[]): void;
}

/**
 * Callback slots for an AppRequest (see `AppRequest.setSink`): the request body ('data', 'end'), 'drain' for the
 * response body, and 'abort', without EventEmitter listeners per request.
 */
export interface AppRequestSink extends StreamSink {
  /** The client went away or the channel closed ('abort'). */
  onAbort(): void;
}
