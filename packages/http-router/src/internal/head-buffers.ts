/**
 * Which request heads Unit takes, by its header buffers (nxt_h1p_header_buffer_test): a head is read into a buffer of
 * 2048 bytes (Unit's `header_buffer_size`); each time a buffer is full before the head ends, Unit takes a new one of
 * `large_header_buffer_size` bytes and copies into it what its parser has not consumed yet: the request line so far,
 * the field name so far, or the field value so far (from its first non-space byte). That part must be smaller than
 * the new buffer, and at most `large_header_buffers` such buffers are taken; otherwise the answer is 431. So a field
 * value (or a request line) of `large_header_buffer_size` bytes or more is refused, however small the rest of the
 * head, and so is a head that needs more buffers than allowed (Unit's test_settings_large_header_buffer_size and
 * test_settings_large_header_buffers).
 */

/** Unit's `header_buffer_size` (the first buffer of a head; not settable through Unit's config). */
export const HEADER_BUFFER_SIZE = 2048;

/** `large_header_buffer_size` and `large_header_buffers` of `settings.http`. */
export interface HeadBufferLimits {
  readonly size: number;
  readonly count: number;
}

/** The largest head Unit can take with `limits` (the first buffer, then every large one full). */
export function headCeiling(limits: HeadBufferLimits): number {
  return HEADER_BUFFER_SIZE + limits.size * limits.count;
}

/** Unit's buffers for one head, fed the head's lines in order. */
export class HeadBuffers {
  /** Head offset where the current buffer begins, and its size. */
  private start = 0;
  private cap = HEADER_BUFFER_SIZE;
  /** Large buffers taken. */
  private taken = 0;

  constructor(private readonly limits: HeadBufferLimits) {}

  /** For the next head. */
  reset(): void {
    this.start = 0;
    this.cap = HEADER_BUFFER_SIZE;
    this.taken = 0;
  }

  /**
   * One line of the head: data[p .. lf], `lf` its LF, data[p] at head offset `at`. `requestLine`: the first line
   * (data[p] may be past its method; Unit keeps the whole line). False: Unit answers 431.
   */
  line(data: Buffer, p: number, lf: number, at: number, requestLine: boolean): boolean {
    const last = at + (lf - p); // head offset of the LF
    while (this.start + this.cap <= last) {
      // The buffer is full before this line ends: what the parser has not consumed moves to a new one.
      const full = this.start + this.cap;
      const keep = requestLine ? 0 : unconsumed(data, p, lf, at, full);
      if (full - keep >= this.limits.size || this.taken >= this.limits.count) return false;
      this.start = keep;
      this.cap = this.limits.size;
      this.taken++;
    }
    return true;
  }
}

/**
 * Head offset from which Unit's parser keeps a field line data[p .. lf] (at head offset `at`) when its buffer ends at
 * head offset `full`: the line's start while its name (or the final empty line's CR) is read, the value's first
 * non-space byte while the value is, the buffer's end while only spaces follow the colon, the value's end once its
 * CR was read.
 */
function unconsumed(data: Buffer, p: number, lf: number, at: number, full: number): number {
  const stop = p + (full - at); // data index of the first byte not in the buffer
  let c = p;
  while (c < stop && data[c] !== 58) c++;
  if (c === stop) return at;
  let v = c + 1;
  while (v < stop && data[v] === 32) v++;
  if (v === stop) return full;
  let e = v;
  while (e < lf && data[e] !== 13) e++;
  if (e >= stop) return at + (v - p);
  while (e > v && data[e - 1] === 32) e--;
  return at + (e - p);
}

/** Whether Unit takes the complete head buf[0 .. end) (lines ending in LF, the first being the request line). */
export function headFits(buf: Buffer, end: number, limits: HeadBufferLimits): boolean {
  if (end <= HEADER_BUFFER_SIZE) return true;
  const b = new HeadBuffers(limits);
  let p = 0;
  while (p < end) {
    const lf = buf.indexOf(10, p);
    if (lf === -1 || lf >= end) return true;
    if (!b.line(buf, p, lf, p, p === 0)) return false;
    p = lf + 1;
  }
  return true;
}
