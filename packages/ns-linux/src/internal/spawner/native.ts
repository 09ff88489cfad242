import { existsSync } from 'fs';
import * as path from 'path';

/** The fd-passing addon (native/fd-pass.c). */
export interface FdPass {
  socketpair(): [number, number];
  send(fd: number, data: Buffer, fds?: number[]): void;
}

const NATIVE_BIN = path.resolve(__dirname, '../../../native/bin');

/** Path of the spawn helper binary (built by `npm run build` in this package, or `make -C native`). */
export function helperPath(): string {
  return process.env.WARDEN_SPAWN_HELPER ?? path.join(NATIVE_BIN, 'warden-spawn');
}

let addon: FdPass | undefined;

/** Loads the fd-passing addon once; throws an actionable error when it was not built. */
export function fdPass(): FdPass {
  if (addon) return addon;
  const file = path.join(NATIVE_BIN, 'fd-pass.node');
  if (!existsSync(file)) {
    throw Object.assign(new Error(`${file} is missing: run "npm run build -w @warden/ns-linux" (or make -C native).`), {
      code: 'WARDEN_ERR_NS_NATIVE_MISSING',
    });
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  addon = require(file) as FdPass;
  return addon;
}
