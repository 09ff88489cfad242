import type { ChildOp } from '@warden/core';

/**
 * The helper's fixed vocabulary of child ops and their argument names, in the order the helper takes them
 * (see README "Child op vocabulary"). Providers add ops as `{op, phase, ...args}`; unknown ops or missing args are
 * rejected before anything is spawned.
 */
export const OP_ARGS: Readonly<Record<string, readonly string[]>> = {
  make_rprivate: [],
  mount: ['root', 'target', 'source', 'fstype', 'flags', 'data'],
  bind: ['root', 'target', 'source', 'readonly'],
  mkdir: ['root', 'path'],
  pivot_root: ['root'],
  chroot: ['root'],
  sethostname: ['hostname'],
  loopback_up: [],
  unshare: ['flags'],
  write_file: ['path', 'data'],
  rlimit: ['resource', 'soft', 'hard'],
  no_new_privs: [],
  caps: ['keep'],
  seccomp: ['filter'],
};

/** Defaults for optional arguments. */
const OPTIONAL: Record<string, string> = { root: '', data: '', fstype: '', source: '', readonly: '0', flags: '0' };

function argString(op: ChildOp, name: string): string {
  const v = op[name];
  if (v === undefined) {
    if (name in OPTIONAL) return OPTIONAL[name];
    throw new Error(`child op "${op.op}" is missing argument "${name}"`);
  }
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return v;
  throw new Error(`child op "${op.op}" argument "${name}" must be a string, number or boolean`);
}

/** Turns a child op into the helper's positional record `[op, arg...]`. */
export function encodeOp(op: ChildOp): string[] {
  const names = OP_ARGS[op.op];
  if (!names) throw new Error(`unknown child op "${op.op}" (known: ${Object.keys(OP_ARGS).join(', ')})`);
  return [op.op, ...names.map((n) => argString(op, n))];
}

/**
 * Encodes a message for the helper: u32 LE payload length, then u32 record count, then per record u32 string count
 * and NUL-terminated strings.
 */
export function encodeMessage(records: readonly (readonly string[])[]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  parts.push(u32(records.length));
  for (const rec of records) {
    parts.push(u32(rec.length));
    for (const s of rec) {
      if (s.includes('\0')) throw new Error(`a string sent to the spawn helper contains a NUL byte: ${JSON.stringify(s)}`);
      parts.push(Buffer.from(s + '\0'));
    }
  }
  const payload = Buffer.concat(parts);
  return Buffer.concat([u32(payload.length), payload]);
}
