package warden

import (
	"net/url"
	"reflect"
	"testing"
)

// parseTarget must give exactly what url.ParseRequestURI gives, on its fast path and off it.
func TestParseTargetMatchesParseRequestURI(t *testing.T) {
	targets := []string{
		"/", "/echo", "/a/b/c.html", "/x?y=1&z=2", "/x?", "/x??", "/x?a?b", "//double/slash", "/~user/$&+,:;=@",
		"/a%20b", "/a%2Fb?x=%41", "/a b", "/a#frag", "/é", "*", "http://host:8080/p?q", "/q?x\x01", "/p\x7f",
		"/%zz", "", "relative", "/?", "/a?b#c", "/[::1]", "/a!b", "/a'b(c)*",
	}
	for _, tg := range targets {
		want, werr := url.ParseRequestURI(tg)
		var got url.URL
		gerr := parseTarget(tg, &got)
		if (werr != nil) != (gerr != nil) {
			t.Errorf("%q: error %v, ParseRequestURI %v", tg, gerr, werr)
			continue
		}
		if werr == nil && !reflect.DeepEqual(&got, want) {
			t.Errorf("%q: %#v, ParseRequestURI %#v", tg, got, *want)
		}
	}
}
