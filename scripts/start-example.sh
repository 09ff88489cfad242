#!/usr/bin/env bash
# Runs wardend in the foreground with the example config: the ns-inspect Go app on http://127.0.0.1:8080/, in its
# own namespaces (as root). Try: curl http://127.0.0.1:8080/   and the control API:
#   curl --unix-socket /tmp/warden-example/control.sock http://localhost/config
# WARDEN_EXAMPLE_DIR (default /tmp/warden-example) and WARDEN_EXAMPLE_PORT (default 8080) move them.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${WARDEN_EXAMPLE_DIR:-/tmp/warden-example}
mkdir -p "$work"
chmod 755 "$work"
examples=$(pwd)/examples
(cd examples/ns-inspect && GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 go build -o ns-inspect .)
config="$work/config.json"
port=${WARDEN_EXAMPLE_PORT:-8080}
sed -e "s|@EXAMPLES@|$examples|g" -e "s|127.0.0.1:8080|127.0.0.1:$port|" examples/ns-inspect/config.json > "$config"
if [ "$(id -u)" -ne 0 ]; then
  # Without root: no id maps beyond our own uid, so the example runs without isolation.
  node -e '
    const fs = require("fs"); const f = process.argv[1]; const c = JSON.parse(fs.readFileSync(f, "utf8"));
    delete c.applications.inspect.isolation; delete c.applications.inspect.user;
    fs.writeFileSync(f, JSON.stringify(c, null, 2));' "$config"
  echo "start-example: not root, so the app runs without isolation" >&2
fi
# wardend restores its saved state before it looks at --config: say which config will run, and how to reset.
if [ "${WARDEN_EXAMPLE_RESET:-}" = 1 ]; then
  rm -rf "$work/state"
fi
if [ -s "$work/state/conf.json" ]; then
  echo "start-example: restoring the config saved by the last run ($work/state/conf.json), with the changes made" \
    "through the control API; the example itself is $config." >&2
  echo "start-example: to start from the example again: WARDEN_EXAMPLE_RESET=1 npm start" >&2
else
  echo "start-example: starting the example config $config" >&2
fi
echo "start-example: control socket $work/control.sock (export WARDEN_CONTROL=unix:$work/control.sock)" >&2
exec node packages/core/bin/wardend.js --no-daemon --control "unix:$work/control.sock" --statedir "$work/state" \
  --config "$config" "$@"
