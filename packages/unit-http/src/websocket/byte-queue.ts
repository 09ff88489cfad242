// The bytes received on a WebSocket connection and not parsed yet: the chunks as they came from the socket, read
// from the front without joining them until a frame needs a contiguous piece. A frame may arrive one byte per chunk
// or many frames in one chunk; the parser only asks "are n bytes there?" and "give me the next n bytes".

/** A FIFO of received bytes kept as the chunks they arrived in. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Bytes already consumed from `chunks[0]`. */
  private offset = 0;
  private total = 0;

  /** Bytes waiting to be read. */
  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** Removes and returns the next `n` bytes (the caller checked that `length >= n`). */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) {
      // The common case: the bytes lie in one chunk, so a view of it is enough.
      const out = first.subarray(this.offset, this.offset + n);
      this.advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(n - copied, chunk.length - this.offset);
      chunk.copy(out, copied, this.offset, this.offset + count);
      copied += count;
      this.advance(count);
    }
    return out;
  }

  /** Forgets everything received. */
  clear(): void {
    this.chunks = [];
    this.offset = 0;
    this.total = 0;
  }

  private advance(n: number): void {
    this.offset += n;
    this.total -= n;
    if (this.offset === this.chunks[0]!.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
