'use strict';
// npm's install step for @warden/ns-linux (runs when install scripts are allowed): nothing to do when the spawn helper
// and the fd-passing addon are already there, built (native/bin) or prebuilt for this platform
// (prebuilds/<platform>-<arch>: warden-spawn and fd-pass.node for glibc, warden-spawn.musl and fd-pass.musl.node for
// musl); otherwise compile them with make and a C compiler, as the fallback.
const { execFileSync } = require('child_process');
const { existsSync } = require('fs');
const path = require('path');

const glibc = typeof process.report.getReport().header.glibcVersionRuntime === 'string';
const have = (dir, files) => files.every((f) => existsSync(path.join(__dirname, dir, f)));
const prebuilt = glibc ? ['warden-spawn', 'fd-pass.node'] : ['warden-spawn.musl', 'fd-pass.musl.node'];

if (have('native/bin', ['warden-spawn', 'fd-pass.node']) || have(`prebuilds/${process.platform}-${process.arch}`, prebuilt)) process.exit(0);
try {
  execFileSync('make', ['-C', path.join(__dirname, 'native')], { stdio: 'inherit' });
} catch (e) {
  process.stderr.write(
    `@warden/ns-linux: no prebuilt spawn helper for ${process.platform}-${process.arch}${glibc ? '' : ' (musl)'} and ` +
      `"make -C native" failed (${e.message}); install make and a C compiler and run it in ${__dirname}.\n`,
  );
  process.exit(1);
}
