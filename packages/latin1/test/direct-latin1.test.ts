import * as latin1 from '../src';

const { DIRECT_LATIN1, latin1Slice, latin1Write } = latin1;

/** The same checks for the direct methods and for the fallback: both must give what the documented calls give. */
function expectDocumentedResults(codec: typeof latin1): void {
  const s = 'GET /\u00e9\u00ff x';
  const a = Buffer.alloc(16);
  const b = Buffer.alloc(16);
  expect(codec.latin1Write(a, s, 2, s.length)).toBe(b.write(s, 2, s.length, 'latin1'));
  expect(a).toEqual(b);
  // Only what fits is written; a char above U+00FF keeps its low byte, as the documented call does.
  expect(codec.latin1Write(a, 'abc\u0141ef', 14, 6)).toBe(b.write('abc\u0141ef', 14, 6, 'latin1'));
  expect(a).toEqual(b);
  expect(codec.latin1Slice(a, 2, 2 + s.length)).toBe(b.toString('latin1', 2, 2 + s.length));
  expect(codec.latin1Slice(a, 5, 5)).toBe('');
}

describe(`Buffer's direct latin1 codec (Node ${process.version})`, () => {
  it('exists on this Node (Buffer.prototype.latin1Write and latin1Slice)', () => {
    if (!DIRECT_LATIN1) {
      throw new Error(
        `Node ${process.version} changed Buffer.prototype.latin1Write/latin1Slice: not functions any more ` +
          '(the documented, slower buf.write/toString are used instead); see packages/latin1/src/index.ts',
      );
    }
  });

  it('writes and reads one byte per char, as the documented latin1 calls do', () => {
    expectDocumentedResults(latin1);
    expect(latin1Slice(Buffer.from([0x41, 0xe9, 0xff]), 0, 3)).toBe('A\u00e9\u00ff');
    expect(latin1Write(Buffer.alloc(1), 'xy', 0, 2)).toBe(1);
  });

  it('falls back to the documented calls, with the same results, on a Node without the direct methods', () => {
    const proto = Buffer.prototype as unknown as Record<string, unknown>;
    const saved = { latin1Write: proto.latin1Write, latin1Slice: proto.latin1Slice };
    let fallback: typeof latin1 | undefined;
    try {
      delete proto.latin1Write;
      // Only the lookup at load time runs without the method; the documented calls below use Node's own.
      jest.isolateModules(() => {
        fallback = jest.requireActual<typeof latin1>('../src');
      });
    } finally {
      Object.assign(proto, saved);
    }
    expect(fallback!.DIRECT_LATIN1).toBe(false);
    expectDocumentedResults(fallback!);
  });
});
