// Package unit is NGINX Unit's Go package (import path unit.nginx.org/go) for Warden: an app written for Unit runs
// under wardend with one change, a `replace unit.nginx.org/go => <this directory>` line in its go.mod.
//
// It is a thin layer over Warden's Go package (warden.dev/warden, one directory up): its internal packages are
// links to that package's files, not copies, and only the files that name import paths are this module's own.
// Unit's differences from net/http are kept: a response without Content-Type gets "text/html; charset=utf-8" (no
// sniffing), and the *http.Request is built as Unit's module builds it: Host stays in r.Header, r.Host is the host
// without port or "localhost", r.RemoteAddr has no port, r.URL.Scheme is "http" or "https", a chunked body comes
// whole with its length, one Body.Read fills the buffer (see the README). Standard library only; no cgo (Unit's
// needs libunit).
package unit

import (
	"net/http"

	"unit.nginx.org/go/internal/warden"
)

// ListenAndServe serves handler (nil = http.DefaultServeMux), as Unit's unit.ListenAndServe: started by wardend it
// serves the requests wardend passes to the application over Warden's shared-memory channel (addr is not used) and
// returns nil once wardend asked the process to stop and in-flight requests finished; started any other way it is
// http.ListenAndServe(addr, handler).
func ListenAndServe(addr string, handler http.Handler) error {
	return warden.ListenAndServe(addr, handler)
}
