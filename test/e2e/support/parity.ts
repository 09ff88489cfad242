// Helpers of the "same app, directly and through wardend, same bytes" tests: raw exchanges on one connection, and
// the comparison of what two servers answered.
import type { ChildProcess } from 'child_process';
import { connect } from 'net';
import { cleanup, type Wardend } from './wardend';

/** The same request on a new connection to the app served directly, then through wardend. */
export async function sendBoth(directPort: number, wardenPort: number, data: string, until?: (t: string) => boolean): Promise<[Seen, Seen]> {
  return [await exchange(directPort, data, until), await exchange(wardenPort, data, until)];
}

/** Ends a parity test: the direct app, wardend, the test's directory. */
export async function stopBoth(direct: ChildProcess | undefined, w: Wardend | undefined, dir: string): Promise<void> {
  direct?.kill();
  await w?.stop();
  cleanup(dir);
}

/** What a client saw on one connection: the bytes it read, and how the connection ended. */
export interface Seen {
  text: string;
  /** 'open': still open when `until` held; 'closed': the server closed it; 'error': reset. */
  end: 'open' | 'closed' | 'error';
}

/** Writes `data` on a new connection; collects until `until(text)` holds or the server ends the connection. */
export function exchange(port: number, data: string, until: (t: string) => boolean = () => false): Promise<Seen> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (end: Seen['end']) => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ text, end });
    };
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (until(text)) finish('open');
    });
    sock.on('error', () => finish('error'));
    sock.on('end', () => finish('closed'));
    sock.on('close', () => finish('closed'));
    sock.write(data);
  });
}

/** Headers the two servers legitimately differ in (time, server name, keep-alive timeout) removed; headers sorted. */
export function normalise(text: string): string {
  return text
    .split('\r\n\r\n')
    .map((part) => {
      if (!/^HTTP\/1\.[01] \d{3}/.test(part)) return part;
      const [status, ...lines] = part.split('\r\n');
      const kept = lines
        .filter((l) => !/^(date|server|keep-alive):/i.test(l))
        .map((l) => l.toLowerCase())
        .sort();
      return [status, ...kept].join('\r\n');
    })
    .join('\r\n\r\n');
}

/** `n` complete responses (Content-Length or chunked bodies: enough for this app's answers). */
export function responses(n: number): (t: string) => boolean {
  return (t) => {
    let count = 0;
    let rest = t;
    for (;;) {
      const head = rest.indexOf('\r\n\r\n');
      if (head < 0) return false;
      const fields = rest.slice(0, head);
      const m = /content-length: (\d+)/i.exec(fields);
      const last = /transfer-encoding: chunked/i.test(fields) ? rest.indexOf('\r\n0\r\n\r\n', head) : 0;
      if (last < 0) return false;
      const end = last > 0 ? last + 7 : head + 4 + (m ? Number(m[1]) : 0);
      if (rest.length < end) return false;
      count++;
      if (count >= n) return true;
      rest = rest.slice(end);
    }
  };
}
