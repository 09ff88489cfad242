import { execFileSync } from 'child_process';
import { join } from 'path';

/**
 * The Go package's own tests (`go test ./...` in packages/app-types/go: the channel's rings, flow control, the order
 * in which writers waiting for ring space get it, request parsing, the response writer), run as part of the suite.
 */
const GO_PACKAGE = join(__dirname, '..', 'go');

function findGo(): string | null {
  for (const p of [process.env.GO, 'go', '/usr/lib/go/bin/go', '/usr/local/go/bin/go']) {
    if (!p) continue;
    try {
      execFileSync(p, ['version'], { stdio: 'ignore' });
      return p;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

const go = findGo();
if (!go) console.warn('skipping the Go package tests: no `go` toolchain found (CI installs golang-go)');

(go ? it : it.skip)(
  'the Go package passes its own tests (go test ./...)',
  () => {
    try {
      execFileSync(go!, ['test', '-count=1', './...'], {
        cwd: GO_PACKAGE,
        env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`go test failed:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`);
    }
  },
  300_000,
);
