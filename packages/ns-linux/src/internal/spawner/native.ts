import { existsSync } from 'fs';
import * as path from 'path';

/** The fd-passing addon (native/fd-pass.c). */
export interface FdPass {
  socketpair(): [number, number];
  send(fd: number, data: Buffer, fds?: number[]): void;
}

const PACKAGE_ROOT = path.resolve(__dirname, '../../..');
/** Where `make -C native` puts its output (a checkout, or a compile at install time). */
const NATIVE_BIN = path.join(PACKAGE_ROOT, 'native/bin');
/**
 * Binaries built before packing (scripts/prebuild-native.js at the repository root), for linux x64/arm64, glibc and
 * musl; used when there is no local build. The musl ones carry node-gyp-build's libc tag: fd-pass.musl.node,
 * warden-spawn.musl (statically linked).
 */
function prebuilt(file: string): string | undefined {
  const name = prebuiltName(file, isGlibc() ? 'glibc' : 'musl');
  const f = path.join(PACKAGE_ROOT, 'prebuilds', `${process.platform}-${process.arch}`, name);
  return existsSync(f) ? f : undefined;
}

/** The file name of a prebuilt binary for a libc: `fd-pass.node` → `fd-pass.musl.node`, `warden-spawn` → `warden-spawn.musl`. */
export function prebuiltName(file: string, libc: 'glibc' | 'musl'): string {
  if (libc === 'glibc') return file;
  return file.endsWith('.node') ? `${file.slice(0, -'.node'.length)}.musl.node` : `${file}.musl`;
}

let glibc: boolean | undefined;
function isGlibc(): boolean {
  if (glibc !== undefined) return glibc;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  glibc = typeof report?.header?.glibcVersionRuntime === 'string';
  return glibc;
}

/**
 * Path of the spawn helper binary: `WARDEN_SPAWN_HELPER`, else the local build (`npm run build` in this package, or
 * `make -C native`), else the prebuilt one shipped in the package for this platform.
 */
export function helperPath(): string {
  if (process.env.WARDEN_SPAWN_HELPER) return process.env.WARDEN_SPAWN_HELPER;
  const local = path.join(NATIVE_BIN, 'warden-spawn');
  return existsSync(local) ? local : (prebuilt('warden-spawn') ?? local);
}

let addon: FdPass | undefined;

/** Loads the fd-passing addon once (local build first, then the prebuilt one); an actionable error when neither is there. */
export function fdPass(): FdPass {
  if (addon) return addon;
  const local = path.join(NATIVE_BIN, 'fd-pass.node');
  const file = existsSync(local) ? local : prebuilt('fd-pass.node');
  if (!file) {
    throw Object.assign(
      new Error(
        `${local} is missing and no prebuilt binary fits ${process.platform}-${process.arch}: ` +
          `run "make -C native" in ${PACKAGE_ROOT} (or "npm run build -w @warden/ns-linux" in the repository).`,
      ),
      { code: 'WARDEN_ERR_NS_NATIVE_MISSING' },
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addon = require(file) as FdPass;
  return addon;
}
