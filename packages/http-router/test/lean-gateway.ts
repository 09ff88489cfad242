import { createHash } from 'crypto';
import type { ApplicationGateway, LeanExchange, LeanHandler } from '../src';
import { EchoGateway } from './helpers';

/**
 * A gateway with the lean method, behaving by path (the node:http `handle` is EchoGateway's):
 * - `/big?n=BYTES`: Content-Length response of n bytes ('a'), written in 64 KiB pieces honouring back-pressure;
 * - `/stream?n=K`: K chunks "chunk i\n" without Content-Length (chunked / close-delimited);
 * - `/echo`: streams the request body back without Content-Length, back-pressure both ways;
 * - `/never`: never answers (abort tests);
 * - `/bad`: a head HTTP forbids (respond() false → 502);
 * - `/early`: answers at once without reading the body;
 * - `/long`: announces 10 bytes, sends 20; `/short`: announces 10, sends 3;
 * - `/empty`: 204; anything else: a JSON description of the request with Content-Length, after the whole body.
 */
export class LeanGateway extends EchoGateway implements ApplicationGateway {
  lean = 0;
  aborted = 0;
  bodyBytes = 0;
  readonly exchanges: LeanExchange[] = [];

  handleLean(app: string, target: string | undefined, ex: LeanExchange): void {
    this.lean++;
    this.exchanges.push(ex);
    const path = ex.target.split('?')[0];
    const q = new URLSearchParams(ex.target.split('?')[1] ?? '');
    const gw = this;
    const base: LeanHandler = {
      onBody: () => true,
      onBodyEnd() {},
      onWritable() {},
      onAbort() {
        gw.aborted++;
      },
    };
    switch (path) {
      case '/big': {
        const total = Number(q.get('n') ?? 1 << 20);
        const piece = Buffer.alloc(64 * 1024, 97);
        let sent = 0;
        let gone = false;
        const pump = () => {
          while (!gone && sent < total) {
            const n = Math.min(piece.length, total - sent);
            sent += n;
            if (!ex.write(n === piece.length ? piece : piece.subarray(0, n), sent === total)) return;
          }
        };
        ex.attach({ ...base, onWritable: pump, onAbort: () => ((gone = true), base.onAbort()) });
        ex.respond(200, ['Content-Type', 'application/octet-stream', 'Content-Length', String(total)]);
        setImmediate(pump);
        return;
      }
      case '/view': {
        // Pieces written with writeView from one buffer that is overwritten as soon as each call returns, as a ring
        // reuses its bytes: the client must still get every piece as it was (piece i is filled with i % 251).
        const total = Number(q.get('n') ?? 1 << 20);
        const ring = Buffer.alloc(Number(q.get('piece') ?? 64 * 1024));
        const chunked = q.has('chunked');
        let sent = 0;
        let i = 0;
        let gone = false;
        const pump = () => {
          while (!gone && sent < total) {
            const n = Math.min(ring.length, total - sent);
            ring.fill(i++ % 251, 0, n);
            sent += n;
            const ok = ex.writeView(ring.subarray(0, n), sent === total);
            ring.fill(0xee); // reused
            if (!ok) return;
          }
        };
        ex.attach({ ...base, onWritable: pump, onAbort: () => ((gone = true), base.onAbort()) });
        ex.respond(200, ['Content-Type', 'application/octet-stream', ...(chunked ? [] : ['Content-Length', String(total)])]);
        setImmediate(pump);
        return;
      }
      case '/stream': {
        const k = Number(q.get('n') ?? 3);
        ex.attach(base);
        ex.respond(200, ['Content-Type', 'text/plain']);
        let i = 0;
        const tick = () => {
          if (i === k) return ex.end();
          ex.write(Buffer.from(`chunk ${i++}\n`), false);
          setImmediate(tick);
        };
        setImmediate(tick);
        return;
      }
      case '/echo': {
        ex.respond(200, ['Content-Type', 'application/octet-stream']);
        ex.attach({
          ...base,
          onBody: (c) => {
            gw.bodyBytes += c.length;
            return ex.write(c, false);
          },
          onBodyEnd: () => ex.end(),
          onWritable: () => ex.resumeBody(),
        });
        return;
      }
      case '/never':
        ex.attach(base);
        return;
      case '/bad':
        ex.attach(base);
        if (!ex.respond(200, ['X-Ok', 'a\r\nInjected: 1'])) ex.fail(502);
        return;
      case '/early':
        ex.attach(base);
        ex.respond(200, ['Content-Length', '5']);
        ex.write(Buffer.from('early'), true);
        return;
      case '/long':
        ex.respond(200, ['Content-Length', '10']);
        ex.write(Buffer.alloc(20, 98), true);
        return;
      case '/short':
        ex.respond(200, ['Content-Length', '10']);
        ex.write(Buffer.from('abc'), true);
        return;
      case '/empty':
        ex.respond(204, []);
        ex.end();
        return;
    }
    const hash = createHash('sha256');
    let size = 0;
    const answer = () => {
      const body = JSON.stringify({
        app,
        target,
        url: ex.target,
        method: ex.method,
        version: ex.httpVersion,
        headers: ex.rawHeaders,
        info: ex.info,
        size,
        sha256: hash.digest('hex'),
      });
      ex.respond(200, ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body)), 'X-App', app]);
      ex.write(Buffer.from(body), true);
    };
    ex.attach({
      ...base,
      onBody: (c) => {
        size += c.length;
        this.bodyBytes += c.length;
        hash.update(c);
        return true;
      },
      onBodyEnd: answer,
    });
    if (ex.contentLength === 0) answer();
  }
}
