import { readFileSync } from 'fs';

/** A fenced code block of a Markdown file. */
export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string ('' when it has none). */
  lang: string;
  /** The block's text, without the fence's indentation (blocks inside list items are indented). */
  code: string;
  /** The reason given by a `<!-- example: not run (why) -->` marker on the line before the fence, else null. */
  notRun: string | null;
}

/** Every fenced (```) block of a Markdown file, indented ones included. */
export function fencedBlocks(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    let end = i + 1;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    const marker = /^\s*<!-- example: not run \((.+)\) -->$/.exec(lines[i - 1] ?? '');
    out.push({
      file,
      line: i + 1,
      lang: open[2]!,
      code: lines
        .slice(i + 1, end)
        .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
        .join('\n'),
      notRun: marker ? marker[1]! : null,
    });
    i = end;
  }
  return out;
}
