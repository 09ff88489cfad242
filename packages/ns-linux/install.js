'use strict';
// npm's install step for @warden/ns-linux (runs when install scripts are allowed): nothing to do when the spawn helper
// and the fd-passing addon are already there, built (native/bin) or prebuilt for this platform
// (prebuilds/<platform>-<arch>, glibc); otherwise compile them with make and a C compiler, as the fallback.
const { execFileSync } = require('child_process');
const { existsSync } = require('fs');
const path = require('path');

const FILES = ['warden-spawn', 'fd-pass.node'];
const have = (dir) => FILES.every((f) => existsSync(path.join(__dirname, dir, f)));
const glibc = typeof process.report.getReport().header.glibcVersionRuntime === 'string';

if (have('native/bin') || (glibc && have(`prebuilds/${process.platform}-${process.arch}`))) process.exit(0);
try {
  execFileSync('make', ['-C', path.join(__dirname, 'native')], { stdio: 'inherit' });
} catch (e) {
  process.stderr.write(
    `@warden/ns-linux: no prebuilt spawn helper for ${process.platform}-${process.arch}${glibc ? '' : ' (musl)'} and ` +
      `"make -C native" failed (${e.message}); install make and a C compiler and run it in ${__dirname}.\n`,
  );
  process.exit(1);
}
