import type { Readable } from 'stream';

/** One event from the helper or prototype (a JSON line on fd 4). */
export interface HelperEvent {
  ev: string;
  pid?: number;
  inner?: number;
  id?: number;
  code?: number | null;
  signal?: number | null;
  step?: string;
  errno?: number;
  message?: string;
}

/**
 * Splits the status stream into JSON lines. Anything that is not a JSON object with a string `ev` is reported to
 * `onBad` and otherwise ignored: the prototype runs next to untrusted code and its output is never trusted blindly.
 */
export function readEvents(stream: Readable, onEvent: (e: HelperEvent) => void, onBad: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > 1 << 20) {
      onBad(buf.slice(0, 200));
      buf = '';
      return;
    }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        onBad(line);
        continue;
      }
      if (typeof parsed === 'object' && parsed !== null && typeof (parsed as HelperEvent).ev === 'string') {
        onEvent(parsed as HelperEvent);
      } else {
        onBad(line);
      }
    }
  });
}
