// What a `node` app needs from the host to run inside a rootfs (`automount.language_deps`): the node binary, the
// program interpreter named in its ELF header (/lib64/ld-linux-*.so.2), the directories of the shared libraries node
// loads, and the Warden installation its preload comes from (the runtime modules and their node_modules).
import * as fs from 'fs';
import * as path from 'path';

/**
 * The program interpreter (PT_INTERP) of an ELF executable, or undefined for a static or non-ELF file. Reads only
 * the ELF and program headers.
 */
export function elfInterpreter(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const eh = Buffer.alloc(64);
    if (fs.readSync(fd, eh, 0, 64, 0) < 64 || eh.readUInt32BE(0) !== 0x7f454c46) return undefined; // "\x7fELF"
    const is64 = eh[4] === 2;
    const le = eh[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const word = (b: Buffer, o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
    const phoff = word(eh, is64 ? 0x20 : 0x1c);
    const phentsize = u16(eh, is64 ? 0x36 : 0x2a);
    const phnum = u16(eh, is64 ? 0x38 : 0x2c);
    if (phnum === 0 || phentsize < (is64 ? 56 : 32) || phnum > 256) return undefined;
    const ph = Buffer.alloc(phentsize * phnum);
    if (fs.readSync(fd, ph, 0, ph.length, phoff) < ph.length) return undefined;
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (u32(ph, o) !== 3) continue; // PT_INTERP
      const off = word(ph, o + (is64 ? 8 : 4));
      const size = word(ph, o + (is64 ? 32 : 16));
      if (size < 2 || size > 4096) return undefined;
      const name = Buffer.alloc(size);
      fs.readSync(fd, name, 0, size, off);
      const text = name.toString('latin1').replace(/\0.*$/s, '');
      return path.isAbsolute(text) ? text : undefined;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Directories of the shared libraries mapped into this process (the node running wardend), from /proc/self/maps. */
export function mappedLibraryDirs(maps = '/proc/self/maps'): string[] {
  let text: string;
  try {
    text = fs.readFileSync(maps, 'utf8');
  } catch {
    return [];
  }
  const dirs = new Set<string>();
  for (const line of text.split('\n')) {
    const slash = line.indexOf('/');
    if (slash < 0) continue;
    const file = line.slice(slash);
    if (/\.so(\.\d+)*$/.test(file)) dirs.add(path.dirname(file));
  }
  return [...dirs].sort();
}

/**
 * The directory a Warden installation lives in, seen from a file inside it: the nearest ancestor holding
 * `node_modules/@warden` (a workspace checkout or a project that installed the packages).
 */
export function wardenRoot(from: string): string | undefined {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules', '@warden'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Host paths to bind into a rootfs for `node` at `nodeBinary` running `preload`: the binary, its interpreter, the
 * library directories of the running node (the same binary when the app uses the default; for another binary
 * they are the best guess, listed in the README), and the Warden root. Paths inside another listed directory are
 * left out; results are real paths, sorted.
 */
export function nodeLanguageDeps(nodeBinary: string, preload: string): string[] {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return undefined;
    }
  };
  const out = new Set<string>();
  const add = (p: string | undefined) => {
    if (p !== undefined && path.isAbsolute(p) && fs.existsSync(p)) out.add(p);
  };
  const nodeReal = real(nodeBinary);
  add(nodeBinary); // the path the app is started with (its real path too, when it is a symlink)
  add(nodeReal);
  const interp = elfInterpreter(nodeReal ?? nodeBinary);
  add(interp);
  add(interp && real(interp));
  for (const d of mappedLibraryDirs()) add(d);
  const root = wardenRoot(real(preload) ?? preload);
  add(root && real(root));
  const list = [...out].sort();
  return list.filter((p) => !list.some((q) => q !== p && p.startsWith(`${q}/`)));
}
