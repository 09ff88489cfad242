/**
 * Encodes a message for the helper: u32 LE payload length, then u32 record count, then per record u32 string count
 * and NUL-terminated strings. Child op records come from core's `encodeChildOp` (the vocabulary is `CHILD_OPS`).
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
