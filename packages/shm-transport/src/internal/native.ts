import * as path from 'path';
import { ShmError, ShmErrorCode } from '../errors';

/** The addon built from native/shm.cc by node-gyp (see binding.gyp). */
export interface NativeShm {
  createMemory(size: number): { fd: number; buffer: ArrayBuffer };
  mapMemory(fd: number): ArrayBuffer;
  socketpair(): [number, number];
  setCloexec(fd: number): void;
  getSeals(fd: number): number;
  /** One byte on the doorbell socket (non-blocking send); returns 0 or the errno (EAGAIN counts as success). */
  ring(fd: number): number;
  /** mallopt(M_TRIM_THRESHOLD, trim) and mallopt(M_MMAP_THRESHOLD, mmap); false without glibc. */
  tuneAllocator(trim: number, mmap: number): boolean;
  SEAL_SHRINK: number;
  SEAL_GROW: number;
}

let cached: NativeShm | undefined;
let allocatorTuned = false;

/**
 * Once per process, before the first channel: raises glibc's malloc trim threshold to 64 MiB and fixes the mmap
 * threshold at 4 MiB, so body chunks freed and allocated at a high rate reuse heap memory instead of returning pages
 * to the kernel and faulting them in again (see tuneAllocator in native/shm.cc). Off with WARDEN_SHM_MALLOC_TUNING=0.
 */
export function tuneAllocatorOnce(n: NativeShm): void {
  if (allocatorTuned) return;
  allocatorTuned = true;
  if (process.env.WARDEN_SHM_MALLOC_TUNING === '0') return;
  n.tuneAllocator(64 << 20, 4 << 20);
}

/** Loads the addon once; a clear error if the package was not built. */
export function native(): NativeShm {
  if (cached) return cached;
  // src/internal and dist/internal are both two levels below the package root.
  const file = path.join(__dirname, '..', '..', 'build', 'Release', 'warden_shm.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    cached = require(file) as NativeShm;
  } catch (e) {
    throw new ShmError(
      ShmErrorCode.NATIVE,
      `cannot load the native addon ${file} (${(e as Error).message}); run "npm run build -w @warden/shm-transport"`,
    );
  }
  return cached;
}
