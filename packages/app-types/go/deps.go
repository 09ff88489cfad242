package warden

// The only file of package warden that names other packages of this module (see warden.go): the unit.nginx.org/go
// module shares every other file of the package and has its own version of this one.

import (
	"net/http"

	"warden.dev/warden/internal/hook"
	"warden.dev/warden/shm"
)

type (
	channel    = shm.Channel
	channelSet = shm.ChannelSet
	stream     = shm.Stream
)

var (
	channelSetFromEnv = shm.SetFromEnv
	errNotUnderWarden = shm.ErrNotUnderWarden
	errAborted        = shm.ErrAborted
)

// defaultContentType is the Content-Type of a response whose handler set none; empty: sniffed from the body with
// http.DetectContentType, as net/http does.
const defaultContentType = ""

// unitRequests: whether the *http.Request is built as Unit's Go package builds it (unit_request.go); false: as
// net/http builds it (Host out of r.Header, RemoteAddr host:port, URL.Scheme empty, chunked bodies streamed).
const unitRequests = false

func reuseStreams(ch interface{}) { hook.ReuseStreams(ch) } // a *channel or *channelSet

// Serve serves handler over an open channel until shutdown (nil) or until the channel fails (its error).
func Serve(ch *shm.Channel, handler http.Handler) error { return serve(ch, handler) }

// ServeSet serves handler over every channel of set (one per wardend router) until a shutdown (nil) or until
// wardend's main process is gone (shm.ErrControlGone); see shm.ChannelSet.
func ServeSet(set *shm.ChannelSet, handler http.Handler) error { return serveSet(set, handler) }

// net/http's status line through the channel (see netHTTPReason in response_writer.go).
func init() { shm.ReasonPhrase = netHTTPReason }
