#!/usr/bin/env node
'use strict';
// Builds the native binaries a package ships prebuilt in prebuilds/<platform>-<arch>/, so that installing it needs no
// compiler. Run by `npm pack` (the prepack script) in packages/shm-transport and packages/ns-linux, for:
// - glibc: this machine's architecture, and the other one of x64/arm64 when its cross compiler is installed (Debian's
//   gcc-aarch64-linux-gnu / gcc-x86-64-linux-gnu; scripts/setup.sh installs the arm64 one);
// - musl x64 and arm64 (Alpine): the C parts (ns-linux) with Debian's musl-gcc (musl-tools, x64 only) or `zig cc`;
//   the C++ addon (shm-transport) needs a C++ standard library built for musl, which Debian does not ship: only with
//   `zig c++` (zig on PATH, or WARDEN_ZIG=/path/to/zig), which links libc++ statically. A target whose toolchain is
//   missing is skipped, saying why.
// File names follow node-gyp-build's libc tag: @warden+shm-transport.glibc.node / .musl.node; ns-linux's own loader
// (src/internal/spawner/native.ts) picks fd-pass.node / fd-pass.musl.node and warden-spawn / warden-spawn.musl (that
// one linked statically). Builds happen in a temporary copy, so the package's own build output (build/,
// native/bin/), which running tests may be loading, is never touched.
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

function zigPath() {
  if (process.env.WARDEN_ZIG) return fs.existsSync(process.env.WARDEN_ZIG) ? process.env.WARDEN_ZIG : null;
  const dir = (process.env.PATH || '').split(':').find((d) => d && fs.existsSync(path.join(d, 'zig')));
  return dir ? path.join(dir, 'zig') : null;
}

/** What the package needs compiled: C (ns-linux: Makefile) or C++ (shm-transport: binding.gyp). */
const NEEDS_CXX = pkg.name === '@warden/shm-transport';

/**
 * The targets to build, each with its toolchain or why it is skipped. A target: { arch, libc, cc, cxx, prefix }:
 * cc/cxx are argv prefixes (the compiler and its target flags); prefix is the binutils prefix of a glibc cross build.
 */
function targets() {
  if (process.platform !== 'linux') throw new Error(`prebuilds are built on linux only, not ${process.platform}`);
  const out = Object.keys(TRIPLES).map((arch) => {
    if (arch === process.arch) return { arch, libc: 'glibc', prefix: '', cc: ['cc'], cxx: ['c++'] };
    const prefix = `${TRIPLES[arch]}-`;
    return onPath(`${prefix}gcc`) && onPath(`${prefix}g++`)
      ? { arch, libc: 'glibc', prefix, cc: [`${prefix}gcc`], cxx: [`${prefix}g++`] }
      : { arch, libc: 'glibc', skip: `${prefix}gcc is not installed` };
  });
  const zig = zigPath();
  for (const arch of Object.keys(TRIPLES)) {
    const target = `${arch === 'x64' ? 'x86_64' : 'aarch64'}-linux-musl`;
    const zcc = zig ? { cc: [zig, 'cc', '-target', target], cxx: [zig, 'c++', '-target', target] } : null;
    if (NEEDS_CXX) {
      out.push(zcc ? { arch, libc: 'musl', ...zcc } : { arch, libc: 'musl', skip: 'no C++ toolchain for musl: put zig on PATH (or set WARDEN_ZIG)' });
    } else if (arch === 'x64' && process.arch === 'x64' && onPath('musl-gcc')) {
      out.push({ arch, libc: 'musl', cc: ['musl-gcc'] });
    } else {
      out.push(
        zcc ? { arch, libc: 'musl', ...zcc } : { arch, libc: 'musl', skip: `${arch === 'x64' ? 'musl-gcc (musl-tools) nor ' : ''}zig is not installed` },
      );
    }
  }
  return out;
}

/** The files a target puts in prebuilds/linux-<arch>/. */
function outputs(t) {
  if (NEEDS_CXX) return [`${pkg.name.replace('/', '+')}.${t.libc}.node`];
  return t.libc === 'glibc' ? ['fd-pass.node', 'warden-spawn'] : ['fd-pass.musl.node', 'warden-spawn.musl'];
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
/** The node headers of the running node (as the Makefile of ns-linux finds them), so that nothing is downloaded. */
const NODE_INCLUDE = path.resolve(process.execPath, '../../include/node');

/** A hash of what a prebuild is made from: the package's native sources, the target, and this script. */
function sourceHash(t) {
  const h = crypto.createHash('sha256').update(`${t.arch} ${t.libc} ${t.cc.join(' ')} ${process.versions.napi}\n`);
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
  if (t.libc === 'musl') return buildAddonMusl(t, tmp, out);
  copyInto(tmp, ['package.json', 'binding.gyp', 'native']);
  const env = {
    ...process.env,
    PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
    NODE_PATH: path.join(ROOT, 'node_modules'), // binding.gyp asks node-addon-api for its include dir
  };
  const nodedir = path.resolve(NODE_INCLUDE, '../..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(NODE_INCLUDE, 'node_api.h'))) env.npm_config_nodedir = nodedir;
  if (t.prefix) Object.assign(env, { CC: `${t.prefix}gcc`, CXX: `${t.prefix}g++`, LINK: `${t.prefix}g++`, PREBUILD_STRIP_BIN: `${t.prefix}strip` });
  // --target: the running node, whose headers are installed (npm's nodedir); N-API makes the binary version-independent.
  run(
    process.execPath,
    [require.resolve('prebuildify/bin.js', { paths: [ROOT] }), '--napi', '--strip', '--tag-libc', '--arch', t.arch, '-t', process.versions.node],
    { cwd: tmp, env: { ...env, PREBUILD_LIBC: 'glibc' } },
  );
  for (const f of fs.readdirSync(path.join(tmp, 'prebuilds', `linux-${t.arch}`))) {
    fs.copyFileSync(path.join(tmp, 'prebuilds', `linux-${t.arch}`, f), path.join(out, f));
  }
}

/**
 * shm-transport for musl: node-gyp knows no musl target, so the one target of binding.gyp (its sources, defines and
 * C++ flags) is compiled with one `zig c++` call, libc++ linked statically, stripped (-s).
 */
function buildAddonMusl(t, tmp, out) {
  const gyp = JSON.parse(fs.readFileSync(path.join(pkgDir, 'binding.gyp'), 'utf8')).targets[0];
  const napiInclude = path.dirname(require.resolve('node-addon-api/napi.h', { paths: [pkgDir] }));
  const file = path.join(tmp, outputs(t)[0]);
  run(t.cxx[0], [
    ...t.cxx.slice(1),
    '-shared',
    '-fPIC',
    '-s',
    ...gyp.cflags_cc,
    '-fno-exceptions',
    ...gyp.defines.map((d) => `-D${d}`),
    `-I${napiInclude}`,
    `-I${NODE_INCLUDE}`,
    '-o',
    file,
    ...gyp.sources.map((s) => path.join(pkgDir, s)),
  ]);
  fs.copyFileSync(file, path.join(out, path.basename(file)));
}

/** ns-linux: its own Makefile (spawn helper + fd-pass addon) in a copy of native/, stripped. */
function buildHelper(t, tmp, out) {
  copyInto(tmp, ['native']);
  const musl = t.libc === 'musl';
  if (t.cc[0] === 'musl-gcc') {
    // musl-gcc searches musl's headers only; the kernel's uapi headers (linux/, asm/) come from Debian's linux-libc-dev.
    const kernel = path.join(tmp, 'kernel-headers');
    fs.mkdirSync(kernel);
    for (const [name, target] of [
      ['linux', '/usr/include/linux'],
      ['asm-generic', '/usr/include/asm-generic'],
      ['asm', `/usr/include/${TRIPLES.x64}/asm`],
    ]) {
      fs.symlinkSync(target, path.join(kernel, name));
    }
    t = { ...t, cc: [...t.cc, '-isystem', kernel] };
  }
  // musl: the helper is linked statically (it then runs on any Linux of that architecture); -s strips at link time.
  // Not as a static PIE: Debian's musl-gcc turns -static-pie into a binary that needs musl's dynamic loader. So the
  // musl helper (and its prototypes) load at a fixed address. glibc: the Makefile links a static PIE when it can.
  const vars = musl ? [`CC=${t.cc.join(' ')}`, 'CFLAGS=-O2 -s', `NODE_INCLUDE=${NODE_INCLUDE}`] : t.prefix ? [`CC=${t.prefix}gcc`] : [];
  if (musl) run('make', ['-s', '-C', path.join(tmp, 'native'), ...vars, 'bin/fd-pass.node']);
  if (musl) run('make', ['-s', '-C', path.join(tmp, 'native'), ...vars, 'STATIC=-static', 'bin/warden-spawn']);
  else run('make', ['-s', '-C', path.join(tmp, 'native'), ...vars]);
  const [fdPassName, helperName] = outputs(t);
  for (const [f, name] of [
    ['fd-pass.node', fdPassName],
    ['warden-spawn', helperName],
  ]) {
    fs.copyFileSync(path.join(tmp, 'native/bin', f), path.join(out, name));
    if (!musl) run(`${t.prefix}strip`, [f === 'warden-spawn' ? '--strip-all' : '--strip-unneeded', path.join(out, name)]);
  }
}

const build = { '@warden/shm-transport': buildAddon, '@warden/ns-linux': buildHelper }[pkg.name];
if (!build) throw new Error(`prebuild-native: no native build known for ${pkg.name}`);

for (const t of targets()) {
  const out = path.join(pkgDir, 'prebuilds', `linux-${t.arch}`);
  const stamp = path.join(out, `${STAMP}-${t.libc}`);
  const hash = t.skip ? '' : sourceHash(t);
  // Up to date (same sources, target and script): nothing to do. The stamps are not packed (see "files").
  if (hash && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) continue;
  // Never ship a binary from an older source: this target's files go first.
  for (const f of [...outputs(t), path.basename(stamp)]) fs.rmSync(path.join(out, f), { force: true });
  fs.rmSync(path.join(out, STAMP), { force: true }); // the single stamp of older versions of this script
  if (t.skip) {
    process.stderr.write(`prebuild-native: ${pkg.name}: no linux-${t.arch} ${t.libc} prebuild (${t.skip})\n`);
    continue;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-prebuild-'));
  try {
    fs.mkdirSync(out, { recursive: true });
    build(t, tmp, out);
    fs.writeFileSync(stamp, hash);
  } catch (e) {
    for (const f of outputs(t)) fs.rmSync(path.join(out, f), { force: true });
    if (!t.prefix && t.libc === 'glibc') throw e; // the native build must work; the others are best effort and say why they failed
    process.stderr.write(`prebuild-native: ${pkg.name}: linux-${t.arch} ${t.libc} build failed: ${e.message}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
