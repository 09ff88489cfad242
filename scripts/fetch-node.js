#!/usr/bin/env node
'use strict';
/**
 * Prints the path of a Node.js binary of the given major version, fetched from the npm registry and cached.
 *
 *   node scripts/fetch-node.js 22            -> /root/.cache/warden/node/22/bin/node
 *   node scripts/fetch-node.js 22 --refresh  (fetch the newest 22.x again)
 *
 * The binary comes from the registry package `node-<platform>-<arch>` (the package the `node` npm package installs
 * under the hood; it holds the official build: bin/node, include/node), through `npm pack`, so the only network
 * access is the npm registry npm is configured with. Cache: $WARDEN_NODE_CACHE, else /var/cache/warden/node as root
 * (readable by every user: tests run apps as `nobody`, which cannot enter root's home), else
 * $XDG_CACHE_HOME/warden/node or ~/.cache/warden/node; one directory per major version, reused without asking the
 * registry again.
 * CI (.ci/run) uses it to run the test suite on a second Node major; N-API addons built for one major load in the
 * other (ABI-stable), so nothing is rebuilt.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function main() {
  const args = process.argv.slice(2);
  const major = args.find((a) => /^\d+$/.test(a));
  if (!major) {
    process.stderr.write('usage: node scripts/fetch-node.js MAJOR [--refresh]\n');
    process.exit(2);
  }
  const refresh = args.includes('--refresh');
  const cacheRoot =
    process.env.WARDEN_NODE_CACHE ||
    (process.getuid() === 0 ? '/var/cache/warden/node' : path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'warden', 'node'));
  const dir = path.join(cacheRoot, major);
  const bin = path.join(dir, 'bin', 'node');
  if (!refresh && isNode(bin, major)) return print(bin);

  const pkg = `node-${process.platform}-${process.arch}@${major}`;
  fs.mkdirSync(cacheRoot, { recursive: true, mode: 0o755 });
  const tmp = fs.mkdtempSync(path.join(cacheRoot, `.fetch-${major}-`));
  try {
    const out = execFileSync('npm', ['pack', pkg, '--pack-destination', tmp, '--json', '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const [{ filename }] = JSON.parse(out);
    const unpacked = path.join(tmp, 'unpacked');
    fs.mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', path.join(tmp, path.basename(filename)), '-C', unpacked, 'package/bin/node', 'package/include'], { stdio: 'inherit' });
    const staged = path.join(unpacked, 'package');
    fs.chmodSync(staged, 0o755);
    if (!isNode(path.join(staged, 'bin', 'node'), major)) throw new Error(`${pkg} holds no working node ${major} binary`);
    // Replace the cached directory in one rename, so a concurrent reader never sees half a tree.
    const old = `${dir}.old-${process.pid}`;
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(staged, dir);
    fs.rmSync(old, { recursive: true, force: true });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  print(bin);
}

function isNode(bin, major) {
  try {
    const v = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    return v.startsWith(`v${major}.`);
  } catch {
    return false;
  }
}

function print(bin) {
  process.stdout.write(`${bin}\n`);
}

main();
