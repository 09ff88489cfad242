package warden

// This module's version of ../../../deps.go (the other files of this package are links to package warden's): the
// same names, taken from this module's internal/shm (links to package shm's files), Unit's default Content-Type and
// Unit's requests.

import (
	"unit.nginx.org/go/internal/hook"
	"unit.nginx.org/go/internal/shm"
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

// defaultContentType: Unit's Go module gives a response without Content-Type this one (it does not sniff).
const defaultContentType = "text/html; charset=utf-8"

// unitRequests: the *http.Request is built as Unit's Go module builds it (unit_request.go: every field in r.Header
// with Host, r.Host without port or "localhost", RemoteAddr without port, r.URL.Scheme "http"/"https", ...).
const unitRequests = true

func reuseStreams(ch interface{}) { hook.ReuseStreams(ch) } // a *channel or *channelSet

// net/http's status line through the channel (see netHTTPReason in response_writer.go).
func init() { shm.ReasonPhrase = netHTTPReason }
