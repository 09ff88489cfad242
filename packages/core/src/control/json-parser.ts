import { WardenError } from '../contracts';

/** Where a JSON document is broken: byte offset (0-based), line and column (1-based), as Unit reports it. */
export interface JsonLocation {
  offset: number;
  line: number;
  column: number;
}

/** A request body that is not valid JSON. Becomes 400 `Invalid JSON.` with `location` and `detail`. */
export class JsonParseError extends WardenError {
  constructor(
    /** What is wrong, as a sentence. */
    readonly detail: string,
    readonly location: JsonLocation,
  ) {
    super('WARDEN_ERR_JSON_INVALID', `${detail} (line ${location.line}, column ${location.column})`);
    this.name = 'JsonParseError';
  }
}

const MAX_DEPTH = 512;

/**
 * Parses JSON the way Unit's control API does: a leading UTF-8 BOM and `//` / `/* *\/` comments are accepted
 * wherever whitespace is; duplicate object members are an error. Object keys are defined as own properties, so a
 * key such as `__proto__` is plain data. Throws {@link JsonParseError} with the location of the first problem.
 */
export function parseJson(input: Buffer | string): unknown {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  return new Parser(buf).parseDocument();
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly buf: Buffer) {}

  parseDocument(): unknown {
    if (this.buf[0] === 0xef && this.buf[1] === 0xbb && this.buf[2] === 0xbf) this.pos = 3;
    this.skipSpace();
    if (this.pos >= this.buf.length)
      this.fail(
        'An empty JSON payload isn\'t allowed. It must be either a literal (null, true, or false), a number, a string (in double quotes ""), an array (with brackets []), or an object (with braces {}).',
      );
    const value = this.parseValue();
    this.skipSpace();
    if (this.pos < this.buf.length) this.fail('Unexpected character after the end of a valid JSON value.');
    return value;
  }

  private fail(detail: string, at = this.pos): never {
    let line = 1;
    let lineStart = 0;
    const end = Math.min(at, this.buf.length);
    for (let i = 0; i < end; i++) {
      if (this.buf[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    // Column counts characters, not bytes: count UTF-8 lead bytes between line start and the error.
    let column = 1;
    for (let i = lineStart; i < end; i++) if ((this.buf[i] & 0xc0) !== 0x80) column++;
    throw new JsonParseError(detail, { offset: at, line, column });
  }

  private skipSpace(): void {
    const b = this.buf;
    for (;;) {
      const c = b[this.pos];
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
        this.pos++;
      } else if (c === 0x2f /* / */) {
        const next = b[this.pos + 1];
        if (next === 0x2f) {
          this.pos += 2;
          while (this.pos < b.length && b[this.pos] !== 0x0a) this.pos++;
        } else if (next === 0x2a) {
          const start = this.pos;
          this.pos += 2;
          while (this.pos < b.length && !(b[this.pos] === 0x2a && b[this.pos + 1] === 0x2f)) this.pos++;
          if (this.pos >= b.length) this.fail("Unexpected end of JSON payload. There's an unclosed multi-line comment (/* ... */).", start);
          this.pos += 2;
        } else {
          this.fail('Unexpected character. A comment must start with "//" or "/*".');
        }
      } else {
        return;
      }
    }
  }

  private parseValue(): unknown {
    const c = this.buf[this.pos];
    if (c === undefined) this.fail('Unexpected end of JSON payload. A valid JSON value is expected here.');
    if (c === 0x7b) return this.parseObject();
    if (c === 0x5b) return this.parseArray();
    if (c === 0x22) return this.parseString();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
    if (this.matchLiteral('true')) return true;
    if (this.matchLiteral('false')) return false;
    if (this.matchLiteral('null')) return null;
    this.fail(
      'A valid JSON value is expected here. It must be either a literal (null, true, or false), a number, a string (in double quotes ""), an array (with brackets []), or an object (with braces {}).',
    );
  }

  private matchLiteral(word: string): boolean {
    if (this.buf.toString('latin1', this.pos, this.pos + word.length) !== word) return false;
    this.pos += word.length;
    return true;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(`The JSON value is nested too deeply (more than ${MAX_DEPTH} levels).`);
  }

  private parseObject(): Record<string, unknown> {
    this.enter();
    const start = this.pos;
    this.pos++;
    const obj: Record<string, unknown> = {};
    this.skipSpace();
    if (this.buf[this.pos] === 0x7d) {
      this.pos++;
      this.depth--;
      return obj;
    }
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.buf.length) this.fail("Unexpected end of JSON payload. There's an object without a closing brace (}).", start);
      if (this.buf[this.pos] !== 0x22)
        this.fail(
          'A double quote (") is expected here. There must be a valid JSON object member starts with a name, which is a string enclosed in double quotes.',
        );
      const keyAt = this.pos;
      const key = this.parseString();
      if (Object.prototype.hasOwnProperty.call(obj, key)) this.fail('Duplicate object member. All JSON object members must have unique names.', keyAt);
      this.skipSpace();
      if (this.buf[this.pos] !== 0x3a) this.fail('A colon (:) is expected here. There must be a colon after a JSON member name.');
      this.pos++;
      this.skipSpace();
      const value = this.parseValue();
      Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const c = this.buf[this.pos];
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        this.depth--;
        return obj;
      }
      if (c === undefined) this.fail("Unexpected end of JSON payload. There's an object without a closing brace (}).", start);
      this.fail(
        'Either a closing brace (}) or a comma (,) is expected here. Each JSON object must be enclosed in braces and its members must be separated by commas.',
      );
    }
  }

  private parseArray(): unknown[] {
    this.enter();
    const start = this.pos;
    this.pos++;
    const arr: unknown[] = [];
    this.skipSpace();
    if (this.buf[this.pos] === 0x5d) {
      this.pos++;
      this.depth--;
      return arr;
    }
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.buf.length) this.fail("Unexpected end of JSON payload. There's an array without a closing bracket (]).", start);
      arr.push(this.parseValue());
      this.skipSpace();
      const c = this.buf[this.pos];
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        this.depth--;
        return arr;
      }
      if (c === undefined) this.fail("Unexpected end of JSON payload. There's an array without a closing bracket (]).", start);
      this.fail(
        'Either a closing bracket (]) or a comma (,) is expected here. Each array must be enclosed in brackets and its members must be separated by commas.',
      );
    }
  }

  private parseString(): string {
    const start = this.pos;
    this.pos++;
    const b = this.buf;
    let out = '';
    let chunkStart = this.pos;
    for (;;) {
      const c = b[this.pos];
      if (c === undefined) this.fail('Unexpected end of JSON payload. There\'s a string without a final double quote (").', start);
      if (c === 0x22) {
        out += this.decodeUtf8(chunkStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('Unexpected character. All control characters in a JSON string must be escaped.');
      if (c === 0x5c) {
        out += this.decodeUtf8(chunkStart, this.pos);
        this.pos++;
        const e = b[this.pos];
        const simple: Record<number, string> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };
        if (e !== undefined && simple[e] !== undefined) {
          out += simple[e];
          this.pos++;
        } else if (e === 0x75) {
          // A UTF-16 surrogate is taken only as the first half of a pair (nxt_conf_json_parse_string): a config holds
          // text that is valid UTF-8, never a lone surrogate.
          const escape = this.pos - 1;
          const unit = this.hex4();
          if (unit >= 0xd800 && unit <= 0xdfff) {
            if (unit > 0xdbff || b[this.pos] !== 0x5c || b[this.pos + 1] !== 0x75) {
              this.fail('Invalid JSON encoding sequence.  This 6-byte sequence does not represent a valid UTF character.', escape);
            }
            this.pos++;
            const low = this.hex4();
            if (low < 0xdc00 || low > 0xdfff) {
              this.fail('Invalid JSON encoding sequence.  This 12-byte sequence composes an illegal UTF-16 surrogate pair.', escape);
            }
            out += String.fromCharCode(unit, low);
          } else out += String.fromCharCode(unit);
        } else {
          this.fail('Invalid backslash escape sequence. The only valid escapes are \\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t and \\uXXXX.');
        }
        chunkStart = this.pos;
        continue;
      }
      this.pos++;
    }
  }

  /** The four hex digits after the `u` at `pos`; leaves `pos` after them. */
  private hex4(): number {
    const hex = this.buf.toString('latin1', this.pos + 1, this.pos + 5);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('Invalid JSON string escape sequence. A "\\u" must be followed by four hexadecimal digits.');
    this.pos += 5;
    return parseInt(hex, 16);
  }

  private decodeUtf8(from: number, to: number): string {
    const s = this.buf.toString('utf8', from, to);
    if (s.includes('\ufffd') && !this.buf.subarray(from, to).includes(Buffer.from('\ufffd'))) {
      this.fail('Invalid UTF-8 byte sequence in a JSON string.', from);
    }
    return s;
  }

  private parseNumber(): number {
    const rest = this.buf.toString('latin1', this.pos, Math.min(this.buf.length, this.pos + 400));
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(rest);
    if (!m) this.fail('A valid JSON number is expected here.');
    const next = rest[m[0].length];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail('Invalid JSON number.', this.pos + m[0].length);
    const n = Number(m[0]);
    if (!Number.isFinite(n)) this.fail('The number is out of range.');
    this.pos += m[0].length;
    return n;
  }
}
