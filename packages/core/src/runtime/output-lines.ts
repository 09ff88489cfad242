import type { Readable } from 'stream';

/** Longest line of a child's output passed on whole; a longer one is passed in pieces of this many characters. */
export const MAX_OUTPUT_LINE = 16384;

/**
 * Calls `onLine` with each line of a child process's output (stdout or stderr of an app, a prototype, a router), the
 * last one at the end even without its newline. A line longer than {@link MAX_OUTPUT_LINE} goes in pieces of that
 * size as its bytes arrive: what wardend holds per stream is bounded, whatever the child writes. (readline holds a
 * line until its newline: an isolated app that wrote 900 MiB without one grew wardend's main process past 4 GB,
 * outside the app's cgroup, until V8's string limit stopped wardend with every app.)
 */
export function outputLines(stream: Readable | null | undefined, onLine: (line: string) => void): void {
  if (!stream) return;
  let rest = '';
  const emit = (line: string): void => {
    for (let i = 0; i < line.length; i += MAX_OUTPUT_LINE) onLine(line.slice(i, i + MAX_OUTPUT_LINE));
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const line of parts) if (line) emit(line);
    if (rest.length >= MAX_OUTPUT_LINE) {
      const keep = rest.length % MAX_OUTPUT_LINE;
      emit(rest.slice(0, rest.length - keep));
      rest = rest.slice(rest.length - keep);
    }
  });
  stream.on('end', () => rest && emit(rest));
  stream.on('error', () => undefined); // the child closed its end abnormally: its exit is reported anyway
}
