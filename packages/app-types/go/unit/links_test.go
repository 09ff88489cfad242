package unit

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The module's internal packages are links to the files of Warden's Go packages, except the one file per package
// that names import paths. A file added to one of those packages must be linked here too (or the build of an app
// that imports unit.nginx.org/go may fail, or silently miss it): this test lists what is missing or stale.
func TestInternalPackagesLinkEveryFileOfWardensPackages(t *testing.T) {
	for _, c := range []struct{ dir, src, own string }{
		{"internal/warden", "..", "deps.go"},
		{"internal/shm", "../shm", "hook.go"},
		{"internal/hook", "../internal/hook", ""},
	} {
		want := goFiles(t, c.src, c.own)
		var got []string
		entries, err := os.ReadDir(c.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() == c.own {
				if e.Type()&os.ModeSymlink != 0 {
					t.Errorf("%s/%s must be this module's own file, not a link", c.dir, e.Name())
				}
				continue
			}
			target, err := os.Readlink(filepath.Join(c.dir, e.Name()))
			if err != nil {
				t.Errorf("%s/%s is not a link to %s/%s", c.dir, e.Name(), c.src, e.Name())
				continue
			}
			if filepath.Clean(filepath.Join(c.dir, target)) != filepath.Clean(filepath.Join(c.src, e.Name())) {
				t.Errorf("%s/%s links to %s, not to %s/%s", c.dir, e.Name(), target, c.src, e.Name())
			}
			got = append(got, e.Name())
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s links %v; %s has %v (without %q)", c.dir, got, c.src, want, c.own)
		}
	}
}

// goFiles lists the non-test .go files of dir, without own, sorted.
func goFiles(t *testing.T, dir, own string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") && n != own {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
