// Byte layout of the channel memory. PROTOCOL.md is the normative description; keep both in sync.

/** "WRDN" read as a little-endian u32. */
export const MAGIC = 0x4e445257;
/** Protocol version in the header and in WARDEN_CHANNEL ("v1:"). */
export const VERSION = 1;
/** Size of the header page; ring 0 data starts here. */
export const HEADER_BYTES = 4096;

// Header fields (byte offsets, u32 little-endian).
export const H_MAGIC = 0;
export const H_VERSION = 4;
export const H_HEADER_BYTES = 8;
export const H_RING_BYTES = 12;
export const H_MAX_FRAME = 16;
export const H_STREAM_WINDOW = 20;
/** Extensions the router implements (bits, see FEATURE_*); an app uses an extension only when its bit is set. */
export const H_FEATURES = 24;

/** Feature bit: the router reads RESPONSE flags REASON (a reason phrase after the headers) and HTTP10. */
export const FEATURE_RESPONSE_LINE = 1;
/**
 * Feature bit: the router keeps one id per client connection: REQUEST `arg` carries it and CONN_CLOSED reports its
 * end, to an app that announced CAP_CONNECTIONS in its READY.
 */
export const FEATURE_CONNECTIONS = 2;
/**
 * Feature bit: the router tunnels upgraded connections (REQUEST flag UPGRADE to an app that announced
 * CAP_UPGRADE; after a 101 the stream carries bytes both ways until both sides ended it).
 */
export const FEATURE_UPGRADE = 4;
/** Feature bit: the router takes TRAILERS frames (response trailers, sent to the client as chunked trailers). */
export const FEATURE_TRAILERS = 8;
/** Feature bit: the router takes INFO frames (1xx responses before the final one, e.g. 103 Early Hints). */
export const FEATURE_EARLY_HINTS = 16;
/** Features this implementation of the router end offers. */
export const ROUTER_FEATURES = FEATURE_RESPONSE_LINE | FEATURE_CONNECTIONS | FEATURE_UPGRADE | FEATURE_TRAILERS | FEATURE_EARLY_HINTS;

/** READY `arg` bit (app capabilities): the app wants connection ids in REQUEST and CONN_CLOSED frames. */
export const CAP_CONNECTIONS = 1;
/** READY `arg` bit (app capability): the app takes REQUEST flag UPGRADE (it answers 101 and then tunnels). */
export const CAP_UPGRADE = 2;

/** Ring 0 carries router→app frames, ring 1 app→router frames. Control block offsets: */
export const RING_CTL = [64, 320] as const;
// Fields of a control block, each on its own 64-byte cache line (byte offsets from the block start).
export const C_TAIL = 0; // written by the producer only
export const C_HEAD = 64; // written by the consumer only
export const C_CONSUMER_SLEEPING = 128; // consumer sets 1 before sleeping; producer CAS 1→0 and rings the doorbell
export const C_PRODUCER_WAITING = 192; // producer sets 1 when the ring is full; consumer CAS 1→0 and rings

/** Frame header: u32 length, u8 type, u8 flags, u16 reserved, u32 stream, u32 arg. */
export const FRAME_HEADER = 16;

/** Frame types. */
export enum FrameType {
  PAD = 0,
  REQUEST = 1,
  RESPONSE = 2,
  DATA = 3,
  END = 4,
  ABORT = 5,
  WINDOW = 6,
  READY = 7,
  SHUTDOWN = 8,
  /** Router→app, stream 0, arg = connection id: that client connection closed (only with CAP_CONNECTIONS). */
  CONN_CLOSED = 9,
  /** App→router, on a stream before its END: response trailers (header pairs as in RESPONSE). */
  TRAILERS = 10,
  /** App→router, on a stream before its RESPONSE: a 1xx response (arg = status, header pairs as in RESPONSE). */
  INFO = 11,
}

/** REQUEST flags bit: the client connection is TLS. */
export const FLAG_TLS = 1;
/**
 * REQUEST flags bit: an upgrade request (`Upgrade` + `Connection: upgrade`) whose stream becomes a tunnel when the app
 * answers 101. Sent only to an app that announced CAP_UPGRADE.
 */
export const FLAG_UPGRADE = 2;
/** RESPONSE flags bit: a reason phrase (str) follows the header pairs. */
export const FLAG_REASON = 1;
/** RESPONSE flags bit: the status line says HTTP/1.0 (Go's net/http answers an HTTP/1.0 request so). */
export const FLAG_HTTP10 = 2;
/** DATA flags bit: last chunk of this direction's body (no END frame follows). */
export const FLAG_END = 1;

/** ABORT reasons (arg of an ABORT frame). */
export enum AbortReason {
  CLIENT_GONE = 1,
  APP_ERROR = 2,
  /** From the app: it dropped the connection (node's `res.destroy()`): reset the client connection, no error page. */
  RESET = 3,
}

/**
 * Default size of each ring: 8 MiB. With 1 MiB, 32 concurrent 64 KiB responses did not fit in the app's ring, the
 * app waited for space at every response and every wait cost a doorbell and a context switch on both sides: the Go
 * bench app served 9.7k req/s through wardend against 16.6k with 2 MiB rings (17k served directly). With 2 MiB,
 * 32 concurrent 1 MiB uploads echoed by a Node app made the router and the app wait for ring space the same way:
 * 8 MiB rings cut the CPU of both by about a tenth (bench/README.md). A ring's pages are resident only as far as
 * traffic touched them, and a producer that finds its ring empty goes back to its start (ring.ts, rewindPosition),
 * so small traffic keeps to the first eighth of the ring.
 */
export const DEFAULT_RING_BYTES = 1 << 23;
export const MIN_RING_BYTES = 1 << 16;
export const MAX_RING_BYTES = 1 << 28;

/** Rounds up to the frame alignment. */
export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Total memfd size for a ring size. */
export function memoryBytes(ringBytes: number): number {
  return HEADER_BYTES + 2 * ringBytes;
}

/**
 * Whether this host stores integers little-endian. The protocol is little-endian and both ends access counters and
 * frame header fields through 32-bit typed arrays in host order, so a big-endian host cannot use the channel.
 */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
