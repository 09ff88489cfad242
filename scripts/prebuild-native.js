#!/usr/bin/env node
'use strict';
// Builds the native binaries a package ships prebuilt in prebuilds/<platform>-<arch>/, so that installing it needs no
// compiler. Run by `npm pack` (the prepack script) in packages/shm-transport and packages/ns-linux: for this
// machine's architecture, and for the other one of x64/arm64 when its cross compiler is installed (Debian's
// gcc-aarch64-linux-gnu / gcc-x86-64-linux-gnu; scripts/setup.sh installs the arm64 one). glibc only.
// Builds happen in a temporary copy, so the package's own build output (build/, native/bin/), which running tests
// may be loading, is never touched.
const { execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const pkgDir = process.cwd();
const pkg = require(path.join(pkgDir, 'package.json'));
const TRIPLES = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

function onPath(cmd) {
  return (process.env.PATH || '').split(':').some((d) => d && fs.existsSync(path.join(d, cmd)));
}

/** The architectures to build for, each with the tool prefix to use ('' = the native toolchain) or why it is skipped. */
function targets() {
  if (process.platform !== 'linux') throw new Error(`prebuilds are built on linux only, not ${process.platform}`);
  return Object.keys(TRIPLES).map((arch) => {
    if (arch === process.arch) return { arch, prefix: '' };
    const prefix = `${TRIPLES[arch]}-`;
    return onPath(`${prefix}gcc`) && onPath(`${prefix}g++`) ? { arch, prefix } : { arch, skip: `${prefix}gcc is not installed` };
  });
}

/** Runs a build step quietly; its output is shown only when it fails. */
function run(cmd, args, opts) {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${e.stdout || ''}${e.stderr || ''}`);
  }
}

const SOURCES = ['binding.gyp', 'native'];
const STAMP = '.source-sha256';

/** A hash of what a prebuild is made from: the package's native sources, the target, and this script. */
function sourceHash(t) {
  const h = crypto.createHash('sha256').update(`${t.arch} ${t.prefix} ${process.versions.napi}\n`);
  h.update(fs.readFileSync(__filename));
  const walk = (rel) => {
    const abs = path.join(pkgDir, rel);
    if (!fs.existsSync(abs) || rel === path.join('native', 'bin')) return;
    if (fs.statSync(abs).isDirectory()) for (const n of fs.readdirSync(abs).sort()) walk(path.join(rel, n));
    else h.update(`${rel}\n`).update(fs.readFileSync(abs));
  };
  SOURCES.forEach(walk);
  return h.digest('hex');
}

function copyInto(tmp, names) {
  for (const n of names) fs.cpSync(path.join(pkgDir, n), path.join(tmp, n), { recursive: true, filter: (src) => !/\/native\/bin$/.test(src) });
}

/** shm-transport: prebuildify (node-gyp) in a copy of binding.gyp + native/, N-API, stripped, tagged glibc. */
function buildAddon(t, tmp, out) {
  copyInto(tmp, ['package.json', 'binding.gyp', 'native']);
  const env = {
    ...process.env,
    PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
    NODE_PATH: path.join(ROOT, 'node_modules'), // binding.gyp asks node-addon-api for its include dir
  };
  // The running node's own headers (as the Makefile of ns-linux finds them), so node-gyp downloads nothing.
  const nodedir = path.resolve(process.execPath, '../..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(nodedir, 'include/node/node_api.h'))) env.npm_config_nodedir = nodedir;
  if (t.prefix) Object.assign(env, { CC: `${t.prefix}gcc`, CXX: `${t.prefix}g++`, LINK: `${t.prefix}g++`, PREBUILD_STRIP_BIN: `${t.prefix}strip` });
  // --target: the running node, whose headers are installed (npm's nodedir); N-API makes the binary version-independent.
  run(
    process.execPath,
    [require.resolve('prebuildify/bin.js', { paths: [ROOT] }), '--napi', '--strip', '--tag-libc', '--arch', t.arch, '-t', process.versions.node],
    { cwd: tmp, env },
  );
  for (const f of fs.readdirSync(path.join(tmp, 'prebuilds', `linux-${t.arch}`))) {
    fs.copyFileSync(path.join(tmp, 'prebuilds', `linux-${t.arch}`, f), path.join(out, f));
  }
}

/** ns-linux: its own Makefile (spawn helper + fd-pass addon) in a copy of native/, stripped. */
function buildHelper(t, tmp, out) {
  copyInto(tmp, ['native']);
  const vars = t.prefix ? [`CC=${t.prefix}gcc`] : [];
  run('make', ['-s', '-C', path.join(tmp, 'native'), ...vars]);
  for (const f of ['warden-spawn', 'fd-pass.node']) {
    fs.copyFileSync(path.join(tmp, 'native/bin', f), path.join(out, f));
    run(`${t.prefix}strip`, [f === 'warden-spawn' ? '--strip-all' : '--strip-unneeded', path.join(out, f)]);
  }
}

const build = { '@warden/shm-transport': buildAddon, '@warden/ns-linux': buildHelper }[pkg.name];
if (!build) throw new Error(`prebuild-native: no native build known for ${pkg.name}`);

for (const t of targets()) {
  const out = path.join(pkgDir, 'prebuilds', `linux-${t.arch}`);
  const hash = t.skip ? '' : sourceHash(t);
  // Up to date (same sources, target and script): nothing to do. The stamp is not packed (see "files").
  if (hash && fs.existsSync(path.join(out, STAMP)) && fs.readFileSync(path.join(out, STAMP), 'utf8') === hash) continue;
  fs.rmSync(out, { recursive: true, force: true }); // never ship a binary from an older source
  if (t.skip) {
    process.stderr.write(`prebuild-native: ${pkg.name}: no linux-${t.arch} prebuild (${t.skip})\n`);
    continue;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-prebuild-'));
  try {
    fs.mkdirSync(out, { recursive: true });
    build(t, tmp, out);
    fs.writeFileSync(path.join(out, STAMP), hash);
  } catch (e) {
    fs.rmSync(out, { recursive: true, force: true });
    if (!t.prefix) throw e; // the native build must work; a cross build is best effort and says why it failed
    process.stderr.write(`prebuild-native: ${pkg.name}: linux-${t.arch} cross build failed: ${e.message}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
