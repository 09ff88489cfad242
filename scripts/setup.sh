#!/usr/bin/env bash
# One-time set-up on a fresh Debian 12 machine: the system tools Warden's build and tests use, then the npm
# dependencies. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v make >/dev/null 2>&1 || need+=(make)
command -v cc >/dev/null 2>&1 || need+=(gcc)
# Headless browser for the status page test (test/e2e/status-page.test.ts renders /ui and takes a screenshot).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Cross compiler for the arm64 prebuilt native binaries that `npm pack` ships (scripts/prebuild-native.js).
if [ "$(uname -m)" = x86_64 ]; then
  command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || need+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu)
  # musl-gcc: the linux-x64 musl prebuilds of ns-linux (C); shm-transport's (C++) need `zig` on PATH as well.
  command -v musl-gcc >/dev/null 2>&1 || need+=(musl-tools)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need[*]}; run as root or install them: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
