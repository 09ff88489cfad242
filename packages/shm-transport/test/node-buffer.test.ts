import { DIRECT_LATIN1, latin1Slice, latin1Write } from '../src/internal/node-buffer';

describe(`Buffer's direct latin1 codec (Node ${process.version})`, () => {
  it('exists on this Node (Buffer.prototype.latin1Write and latin1Slice)', () => {
    if (!DIRECT_LATIN1) {
      throw new Error(
        `Node ${process.version} changed Buffer.prototype.latin1Write/latin1Slice: not functions any more ` +
          '(the documented, slower buf.write/toString are used instead); see src/internal/node-buffer.ts',
      );
    }
  });

  it('writes and reads one byte per char, as the documented latin1 calls do', () => {
    const s = 'GET /\u00e9\u00ff x';
    const a = Buffer.alloc(16);
    const b = Buffer.alloc(16);
    expect(latin1Write(a, s, 2, s.length)).toBe(b.write(s, 2, s.length, 'latin1'));
    expect(a).toEqual(b);
    expect(latin1Write(a, 'abcdef', 14, 6)).toBe(2);
    expect(latin1Slice(a, 2, 2 + s.length)).toBe(b.toString('latin1', 2, 2 + s.length));
  });
});
