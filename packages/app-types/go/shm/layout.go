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
)

const (
	flagTLS     = 1 // REQUEST: client connection is TLS
	flagUpgrade = 2 // REQUEST: an upgrade request (only to an app that announced capUpgrade)
	flagEnd     = 1 // DATA: last chunk of the body, no END frame follows

	flagReason = 1 // RESPONSE: a reason phrase (str) follows the header pairs
	flagHTTP10 = 2 // RESPONSE: the status line says HTTP/1.0

	// featureResponseLine: the router reads flagReason and flagHTTP10 (bit of the header's features word).
	featureResponseLine = 1
	// featureUpgrade: the router tunnels a stream whose UPGRADE request the app answered with 101.
	featureUpgrade = 4
	// capUpgrade: READY arg bit, the app takes UPGRADE requests.
	capUpgrade = 2

	abortClientGone = 1
	abortAppError   = 2
)

func align8(n uint32) uint32 { return (n + 7) &^ 7 }
