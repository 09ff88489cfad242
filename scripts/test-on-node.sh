#!/usr/bin/env bash
# Runs the test suite (or the jest arguments given) on another Node major, fetched from the npm registry and cached
# by scripts/fetch-node.js: `scripts/test-on-node.sh 22`, `scripts/test-on-node.sh 22 --selectProjects app-types`.
# Expects `npm run build` to have run: dist/ is plain JS and the addons are N-API (ABI-stable), so nothing is rebuilt.
# That node is first in PATH, so every `node` a test starts (wardend, apps, CLIs) is the same version as jest's.
set -euo pipefail
cd "$(dirname "$0")/.."
major="${1:?usage: scripts/test-on-node.sh MAJOR [jest args...]}"
shift
node_bin="$(node scripts/fetch-node.js "$major")"
export PATH="$(dirname "$node_bin"):$PATH"
echo "test-on-node: $(node --version) ($node_bin)" >&2
exec node node_modules/jest/bin/jest.js "$@"
