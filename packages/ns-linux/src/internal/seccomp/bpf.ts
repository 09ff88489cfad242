/**
 * Classic BPF as seccomp runs it (<linux/filter.h>, <linux/bpf_common.h>, <linux/seccomp.h>): the few instructions
 * the filter compiler emits, the return values, and the wire encoding the spawn helper decodes.
 */

/** One `struct sock_filter`. */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Instruction codes (class | size | mode / op | source). */
export const BPF = {
  /** A = u32 at offset k of struct seccomp_data. */
  LD_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS
  /** pc += (A == k) ? jt : jf */
  JEQ: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  /** pc += (A >= k) ? jt : jf (unsigned) */
  JGE: 0x35, // BPF_JMP | BPF_JGE | BPF_K
  /** pc += (A & k) ? jt : jf */
  JSET: 0x45, // BPF_JMP | BPF_JSET | BPF_K
  /** pc += k */
  JA: 0x05, // BPF_JMP | BPF_JA
  /** return k */
  RET: 0x06, // BPF_RET | BPF_K
} as const;

/** Offsets in struct seccomp_data: nr, arch, instruction_pointer, args[6] (u64 each, little endian). */
export const SECCOMP_DATA = {
  NR: 0,
  ARCH: 4,
  /** The low 32 bits of argument `i` (both supported architectures are little endian). */
  argLow: (i: number) => 16 + 8 * i,
} as const;

/** Filter return values (SECCOMP_RET_*). */
export const RET = {
  KILL_PROCESS: 0x80000000,
  ERRNO: 0x00050000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** Longest program the kernel accepts (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** Conditional jumps reach at most 255 instructions ahead; farther targets go through a JA. */
export const MAX_COND_JUMP = 255;

/** One instruction; `k` is kept as an unsigned 32-bit number. */
export const insn = (code: number, k = 0, jt = 0, jf = 0): BpfInsn => ({ code, jt, jf, k: k >>> 0 });

/**
 * The program as the spawn helper reads it: per instruction 16 hex digits, code (4), jt (2), jf (2), k (8), each
 * field big-endian, so the text does not depend on the byte order of either side.
 */
export function encodeProgram(prog: readonly BpfInsn[]): string {
  const hex = (v: number, w: number) => v.toString(16).padStart(w, '0');
  return prog.map((i) => hex(i.code, 4) + hex(i.jt, 2) + hex(i.jf, 2) + hex(i.k >>> 0, 8)).join('');
}
