import { PassThrough } from 'stream';
import { MAX_OUTPUT_LINE, outputLines } from '../src/runtime/output-lines';

describe('outputLines: a child process output read line by line, bounded', () => {
  const turn = () => new Promise((r) => setImmediate(r));

  it('passes lines as they end, and the last one at the end without its newline', async () => {
    const s = new PassThrough();
    const got: string[] = [];
    outputLines(s, (l) => got.push(l));
    s.write('one\ntw');
    s.write('o\n\nthree');
    await turn();
    expect(got).toEqual(['one', 'two']);
    s.end();
    await turn();
    expect(got).toEqual(['one', 'two', 'three']);
  });

  it('passes a line without a newline in pieces as its bytes come, holding less than one piece', async () => {
    const s = new PassThrough();
    const got: string[] = [];
    outputLines(s, (l) => got.push(l));
    s.write('x'.repeat(MAX_OUTPUT_LINE * 2 + 100)); // no newline, and none coming
    await turn();
    expect(got.map((l) => l.length)).toEqual([MAX_OUTPUT_LINE, MAX_OUTPUT_LINE]);
    s.write('x'.repeat(MAX_OUTPUT_LINE - 100));
    await turn();
    expect(got.map((l) => l.length)).toEqual([MAX_OUTPUT_LINE, MAX_OUTPUT_LINE, MAX_OUTPUT_LINE]);
    s.write('y\n' + 'z'.repeat(MAX_OUTPUT_LINE * 2 + 5) + '\n');
    await turn();
    expect(got.slice(3)).toEqual(['y', 'z'.repeat(MAX_OUTPUT_LINE), 'z'.repeat(MAX_OUTPUT_LINE), 'zzzzz']);
  });
});
