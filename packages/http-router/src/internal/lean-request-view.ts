import type { LeanHead } from './fast-parser';
import type { RequestView } from './request-context';

/**
 * The RequestView (what routing and variables read: method, url, httpVersion, headers, headersDistinct) of a
 * request parsed on the lean path. Only for heads without repeated field names: node:http
 * joins or drops repeated fields by rules of its own, so such requests are left to node:http to keep matching
 * identical on both paths.
 */
export class LeanRequestView implements RequestView {
  private constructor(
    readonly method: string,
    public url: string,
    readonly httpVersion: string,
    readonly headers: Record<string, string | string[]>,
    private readonly raw: string[],
  ) {}

  /** The view of `head`, or null when a field name repeats. */
  static of(head: LeanHead): LeanRequestView | null {
    const raw = head.rawHeaders;
    const headers: Record<string, string | string[]> = Object.create(null);
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toLowerCase();
      if (headers[name] !== undefined) return null;
      headers[name] = name === 'set-cookie' ? [raw[i + 1]] : raw[i + 1];
    }
    return new LeanRequestView(head.method, head.target, head.httpVersion, headers, raw);
  }

  /** Field names as sent and their values, alternating. */
  get rawHeaders(): string[] {
    return this.raw;
  }

  private distinct: Record<string, string[]> | null = null;

  /** Every field as a one-element list (no name repeats here); built on first use, once per request. */
  get headersDistinct(): Record<string, string[]> {
    if (this.distinct !== null) return this.distinct;
    const out: Record<string, string[]> = Object.create(null);
    for (let i = 0; i < this.raw.length; i += 2) out[this.raw[i].toLowerCase()] = [this.raw[i + 1]];
    return (this.distinct = out);
  }
}
