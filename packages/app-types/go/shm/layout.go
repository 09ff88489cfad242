package shm

// Byte layout of the channel memory; packages/shm-transport/PROTOCOL.md is the normative description.

const (
	magic        = 0x4e445257 // "WRDN" as a little-endian u32
	version      = 1
	headerBytes  = 4096
	hMagic       = 0
	hVersion     = 4
	hHeaderBytes = 8
	hRingBytes   = 12
	hMaxFrame    = 16
	hWindow      = 20
	hFeatures    = 24 // extensions the router implements (featureResponseLine)

	// Control blocks: ring 0 (router→app) at 64, ring 1 (app→router) at 320. Fields, each on its own cache line:
	ctlRing0          = 64
	ctlRing1          = 320
	cTail             = 0   // producer writes
	cHead             = 64  // consumer writes
	cConsumerSleeping = 128 // consumer sets 1 before sleeping; producer CAS 1→0 and rings the doorbell
	cProducerWaiting  = 192 // producer sets 1 when full; consumer CAS 1→0 and rings the doorbell

	frameHeader = 16
	minRing     = 1 << 16
	maxRing     = 1 << 28
)

// Frame types.
const (
	typePad      = 0
	typeRequest  = 1
	typeResponse = 2
	typeData     = 3
	typeEnd      = 4
	typeAbort    = 5
	typeWindow   = 6
	typeReady    = 7
	typeShutdown = 8
	// Extensions, each sent only to a peer that said it understands it (PROTOCOL.md):
	typeConnClosed = 9  // router→app, stream 0, arg = connection id (only to an app that announced capConnections)
	typeTrailers   = 10 // app→router: response trailers, before END (only with featureTrailers)
	typeInfo       = 11 // app→router: a 1xx response before RESPONSE, arg = status (only with featureEarlyHints)
)

const (
	flagTLS     = 1 // REQUEST: client connection is TLS
	flagUpgrade = 2 // REQUEST: an upgrade request (only to an app that announced capUpgrade)
	flagEnd     = 1 // DATA: last chunk of the body, no END frame follows

	flagReason = 1 // RESPONSE: a reason phrase (str) follows the header pairs
	flagHTTP10 = 2 // RESPONSE: the status line says HTTP/1.0

	// featureResponseLine: the router reads flagReason and flagHTTP10 (bit of the header's features word).
	featureResponseLine = 1
	// featureConnections: connection ids in REQUEST arg and CONN_CLOSED, for an app whose READY asks for them.
	featureConnections = 2
	// featureUpgrade: the router tunnels a stream whose UPGRADE request the app answered with 101.
	featureUpgrade = 4
	// featureTrailers: the router takes TRAILERS frames.
	featureTrailers = 8
	// featureEarlyHints: the router takes INFO frames (1xx responses).
	featureEarlyHints = 16

	// capConnections: READY arg bit, the app wants connection ids (this package does not ask: net/http's handlers
	// see no connection object beyond RemoteAddr/LocalAddr).
	capConnections = 1
	// capUpgrade: READY arg bit, the app takes UPGRADE requests.
	capUpgrade = 2

	abortClientGone = 1
	abortAppError   = 2
	abortReset      = 3 // app→router: the app dropped the connection on purpose (panic(http.ErrAbortHandler))
)

func align8(n uint32) uint32 { return (n + 7) &^ 7 }
