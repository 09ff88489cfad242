import { JsonParseError, parseJson } from '../src/control/json-parser';

const failAt = (text: string | Buffer) => {
  try {
    parseJson(text);
  } catch (e) {
    expect(e).toBeInstanceOf(JsonParseError);
    return e as JsonParseError;
  }
  throw new Error(`parsed: ${String(text)}`);
};

describe('JSON parser (Unit dialect)', () => {
  it('parses plain JSON like JSON.parse', () => {
    const doc = { a: [1, -2.5, 3e2, true, false, null, 'x\n\u00e9\ud83d\ude00"\\/'], b: {}, c: [] };
    expect(parseJson(JSON.stringify(doc))).toEqual(doc);
    expect(parseJson('"\\u0041\\n"')).toBe('A\n');
    expect(parseJson(' 0 ')).toBe(0);
  });

  it('accepts a UTF-8 BOM and // and /* */ comments wherever whitespace may be', () => {
    const text = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('/* a */{// b\n"k"/**/:/* c */[1,//d\n2]}//e')]);
    expect(parseJson(text)).toEqual({ k: [1, 2] });
  });

  it('reports offset, line and column (1-based) of the error', () => {
    const e = failAt('{\n  "a": 1,\n  "b" 2\n}');
    expect(e.location).toEqual({ offset: 18, line: 3, column: 7 });
    expect(e.detail).toMatch(/colon/);
  });

  it('counts columns in characters, not bytes', () => {
    expect(failAt('["é", x]').location).toEqual({ offset: 7, line: 1, column: 7 });
  });

  it.each([
    ['', /empty/],
    ['{', /closing brace/],
    ['[1,', /closing bracket/],
    ['"abc', /double quote/],
    ['/* never closed', /comment/],
    ['{"a":1,"a":2}', /Duplicate object member/],
    ['{"a":1}x', /after the end/],
    ['[01]', /number/i],
    ['"\\x"', /escape/],
    ['"a\tb"', /control characters/],
    ['tru', /valid JSON value/],
    ['{a:1}', /double quote/],
    ['[1 2]', /comma/],
  ])('rejects %j', (text, detail) => {
    expect(failAt(text).detail).toMatch(detail);
  });

  it('rejects invalid UTF-8 inside strings', () => {
    expect(failAt(Buffer.from([0x22, 0xff, 0x22])).detail).toMatch(/UTF-8/);
  });

  it('takes a \\u surrogate only as the first half of a pair, as Unit (a config is valid UTF-8)', () => {
    expect(parseJson('"\\ud83d\\ude00x"')).toBe('\ud83d\ude00x');
    const lone = failAt('{"a": "x\\ud800"}');
    expect(lone.detail).toBe('Invalid JSON encoding sequence.  This 6-byte sequence does not represent a valid UTF character.');
    expect(lone.location.offset).toBe(8);
    expect(failAt('"\\udc00\\ud800"').detail).toMatch(/6-byte sequence/); // a low half first
    expect(failAt('"\\ud800\\n"').detail).toMatch(/6-byte sequence/);
    const pair = failAt('"\\ud800\\u0041"');
    expect(pair.detail).toBe('Invalid JSON encoding sequence.  This 12-byte sequence composes an illegal UTF-16 surrogate pair.');
    expect(pair.location.offset).toBe(1);
    expect(failAt('"\\ud800\\uzz"').detail).toMatch(/four hexadecimal digits/);
  });

  it('rejects absurd nesting instead of overflowing the stack', () => {
    expect(failAt('['.repeat(100000)).detail).toMatch(/nested too deeply/);
  });

  it('keeps __proto__ as an own key', () => {
    const v = parseJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect(Object.prototype.hasOwnProperty.call(v, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
