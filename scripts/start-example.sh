#!/usr/bin/env bash
# Runs wardend in the foreground with the example config: the ns-inspect Go app on http://127.0.0.1:8080/, in its
# own namespaces (as root). Try: curl http://127.0.0.1:8080/   and the control API:
#   curl --unix-socket /tmp/warden-example/control.sock http://localhost/config
set -euo pipefail
cd "$(dirname "$0")/.."
work=${WARDEN_EXAMPLE_DIR:-/tmp/warden-example}
mkdir -p "$work"
chmod 755 "$work"
examples=$(pwd)/examples
(cd examples/ns-inspect && GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 go build -o ns-inspect .)
config="$work/config.json"
sed "s|@EXAMPLES@|$examples|g" examples/ns-inspect/config.json > "$config"
if [ "$(id -u)" -ne 0 ]; then
  # Without root: no id maps beyond our own uid, so the example runs without isolation.
  node -e '
    const fs = require("fs"); const f = process.argv[1]; const c = JSON.parse(fs.readFileSync(f, "utf8"));
    delete c.applications.inspect.isolation; delete c.applications.inspect.user;
    fs.writeFileSync(f, JSON.stringify(c, null, 2));' "$config"
  echo "start-example: not root, so the app runs without isolation" >&2
fi
echo "start-example: config $config; control socket $work/control.sock" >&2
exec node packages/core/bin/wardend.js --no-daemon --control "unix:$work/control.sock" --statedir "$work/state" \
  --config "$config" "$@"
