import type { BpfInsn } from '../src/internal/seccomp/bpf';

/** What the kernel hands a seccomp filter (struct seccomp_data), with 64-bit arguments. */
export interface SeccompData {
  nr: number;
  arch: number;
  args?: bigint[];
}

/** Reads the helper's wire encoding back (16 hex digits per instruction: code, jt, jf, k). */
export function decodeProgram(text: string): BpfInsn[] {
  if (text.length % 16 !== 0 || !/^[0-9a-f]*$/.test(text)) throw new Error('not an encoded BPF program');
  const out: BpfInsn[] = [];
  for (let o = 0; o < text.length; o += 16) {
    out.push({
      code: parseInt(text.slice(o, o + 4), 16),
      jt: parseInt(text.slice(o + 4, o + 6), 16),
      jf: parseInt(text.slice(o + 6, o + 8), 16),
      k: parseInt(text.slice(o + 8, o + 16), 16),
    });
  }
  return out;
}

/**
 * Runs a classic BPF seccomp program the way the kernel does, for the instructions a seccomp filter may use
 * (loads of seccomp_data words, conditional and unconditional jumps, returns), and checks what the kernel's
 * verifier checks: every jump lands inside the program, jump offsets fit their fields, it ends in a return.
 * Returns the filter's return value and how many instructions ran.
 */
export function runFilter(prog: readonly BpfInsn[], data: SeccompData): { ret: number; steps: number } {
  const word = (off: number): number => {
    if (off === 0) return data.nr >>> 0;
    if (off === 4) return data.arch >>> 0;
    if (off >= 16 && off < 64 && off % 4 === 0) {
      const arg = data.args?.[(off - 16) >> 3] ?? 0n;
      return Number((off % 8 === 0 ? arg : arg >> 32n) & 0xffffffffn);
    }
    throw new Error(`load from offset ${off} is outside seccomp_data`);
  };
  let a = 0;
  let pc = 0;
  let steps = 0;
  for (;;) {
    if (pc < 0 || pc >= prog.length) throw new Error(`pc ${pc} outside the program of ${prog.length}`);
    const i = prog[pc];
    if (i.jt > 255 || i.jf > 255) throw new Error(`jump offset over 255 at ${pc}`);
    steps++;
    switch (i.code) {
      case 0x20:
        a = word(i.k);
        pc++;
        break;
      case 0x15:
        pc += 1 + (a === i.k >>> 0 ? i.jt : i.jf);
        break;
      case 0x35:
        pc += 1 + (a >>> 0 >= i.k >>> 0 ? i.jt : i.jf);
        break;
      case 0x45:
        pc += 1 + ((a & i.k) !== 0 ? i.jt : i.jf);
        break;
      case 0x05:
        pc += 1 + i.k;
        break;
      case 0x06:
        return { ret: i.k >>> 0, steps };
      default:
        throw new Error(`instruction code 0x${i.code.toString(16)} at ${pc} is not expected in a seccomp filter`);
    }
  }
}
