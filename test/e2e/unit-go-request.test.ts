// The *http.Request a Go app written for NGINX Unit gets from Warden's unit.nginx.org/go module, field by field, as
// Unit's own Go package builds it (go/request.go new_request, with the router's server_name and remote address):
// every header field stays in r.Header (Host included), r.Host is the Host value without its port (lower case) or
// "localhost", r.RemoteAddr is the client address without a port, r.TLS is an empty ConnectionState, a chunked body
// reaches the handler whole with a Content-Length, and one Body.Read fills the buffer. The app is written here in
// Unit's style and built with the one go.mod line a Unit user adds.
import { connect } from 'net';
import { get as httpsGet } from 'https';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, haveGo, http, serveGoApp, worldDir, type Wardend } from './support/wardend';

const UNIT_GO_MODULE = join(ROOT, 'packages/app-types/go/unit');
const TLS_FIXTURES = join(ROOT, 'packages/http-router/test/fixtures/tls');

const GO_MOD = `module example.com/unit-request

go 1.19

require unit.nginx.org/go v0.0.0

replace unit.nginx.org/go => ${UNIT_GO_MODULE}
`;

// "/" reports the request as JSON; "/variables" answers with request fields as response headers and "/mirror" echoes
// what one Body.Read returned, the way Unit's own test apps use the API.
const APP = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"unit.nginx.org/go"
)

func report(w http.ResponseWriter, r *http.Request) {
	var tls interface{}
	if r.TLS != nil {
		tls = map[string]interface{}{"handshakeComplete": r.TLS.HandshakeComplete, "serverName": r.TLS.ServerName}
	}
	var zero [0]byte
	zn, zerr := r.Body.Read(zero[:])
	buf := make([]byte, 1<<16)
	n, err := r.Body.Read(buf)
	rest, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]interface{}{
		"method": r.Method, "requestURI": r.RequestURI, "url": r.URL.String(), "scheme": r.URL.Scheme,
		"proto": r.Proto, "protoMajor": r.ProtoMajor, "protoMinor": r.ProtoMinor,
		"header": r.Header, "host": r.Host, "remoteAddr": r.RemoteAddr, "tls": tls,
		"contentLength": r.ContentLength, "transferEncoding": r.TransferEncoding, "close": r.Close,
		"noBody": r.Body == http.NoBody, "zeroRead": fmt.Sprint(zn, zerr),
		"firstRead": n, "firstErr": fmt.Sprint(err), "body": string(buf[:n]) + string(rest),
	})
}

func variables(w http.ResponseWriter, r *http.Request) {
	var buf [4096]byte
	n, _ := r.Body.Read(buf[:])
	w.Header().Set("Request-Method", r.Method)
	w.Header().Set("Request-Uri", r.RequestURI)
	w.Header().Set("Server-Protocol", r.Proto)
	w.Header().Set("Content-Length", fmt.Sprint(n))
	w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
	w.Header().Set("Custom-Header", r.Header.Get("Custom-Header"))
	w.Header().Set("Http-Host", r.Header.Get("Host"))
	w.Write(buf[:n])
}

func mirror(w http.ResponseWriter, r *http.Request) {
	var buf [32768]byte
	n, _ := r.Body.Read(buf[:])
	w.Header().Set("Content-Length", fmt.Sprint(n))
	w.Write(buf[:n])
}

func main() {
	http.HandleFunc("/", report)
	http.HandleFunc("/variables", variables)
	http.HandleFunc("/mirror", mirror)
	unit.ListenAndServe(":8080", nil)
}
`;

interface Report {
  method: string;
  requestURI: string;
  url: string;
  scheme: string;
  proto: string;
  protoMajor: number;
  protoMinor: number;
  header: Record<string, string[]>;
  host: string;
  remoteAddr: string;
  tls: { handshakeComplete: boolean; serverName: string } | null;
  contentLength: number;
  transferEncoding: string[] | null;
  close: boolean;
  noBody: boolean;
  zeroRead: string;
  firstRead: number;
  firstErr: string;
  body: string;
}

/**
 * Writes `parts` on one connection (waiting `pauseMs` between them, so that they arrive as separate segments) and
 * resolves with the response once the server closed the connection (the requests say `Connection: close` or are
 * HTTP/1.0).
 */
function raw(port: number, parts: string[], pauseMs = 0): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('error', reject);
    sock.on('close', () => {
      const [head, ...body] = text.split('\r\n\r\n');
      const [status, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      resolve({ status: Number(status.split(' ')[1]), headers, body: body.join('\r\n\r\n') });
    });
    const write = (i: number) => {
      if (i === parts.length) return;
      sock.write(parts[i]);
      if (i + 1 < parts.length) setTimeout(() => write(i + 1), pauseMs);
    };
    write(0);
  });
}

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('unit-go-request e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');

describeGo("a Go app written for Unit gets the *http.Request Unit's Go package builds", () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-unit-go-request-');
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'go.mod'), GO_MOD);
    writeFileSync(join(src, 'main.go'), APP);
    ({ w, port } = await serveGoApp(dir, src, 'unit-request'));
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it("keeps Host in r.Header, as Unit's variables test expects (Http-Host: localhost)", async () => {
    const body = 'Test body string.';
    const res = await http(port, '/variables', {
      method: 'POST',
      headers: { Host: 'localhost', 'Content-Type': 'text/html', 'Custom-Header': 'blah', Connection: 'close' },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'content-length': String(body.length),
      'content-type': 'text/html',
      'request-method': 'POST',
      'request-uri': '/variables',
      'http-host': 'localhost',
      'server-protocol': 'HTTP/1.1',
      'custom-header': 'blah',
    });
    expect(res.body.toString()).toBe(body);
  });

  it('fills every field as new_request() does: all header fields, Host without port in lower case, RemoteAddr without port', async () => {
    const res = await http(port, '/p/a?x=1&y', {
      method: 'POST',
      headers: { Host: 'Example.TEST.:8080', 'X-Multi': 'one', 'Content-Type': 'text/plain', Connection: 'close' },
      body: 'hello',
    });
    const r = JSON.parse(res.body.toString()) as Report;
    expect(r.header).toEqual({
      Host: ['Example.TEST.:8080'],
      'X-Multi': ['one'],
      'Content-Type': ['text/plain'],
      'Content-Length': ['5'],
      Connection: ['close'],
    });
    expect(r).toMatchObject({
      method: 'POST',
      requestURI: '/p/a?x=1&y',
      url: 'http:///p/a?x=1&y',
      scheme: 'http',
      proto: 'HTTP/1.1',
      protoMajor: 1,
      protoMinor: 1,
      host: 'example.test',
      remoteAddr: '127.0.0.1',
      tls: null,
      contentLength: 5,
      transferEncoding: null,
      close: false,
      noBody: false,
      zeroRead: '0 <nil>',
      firstRead: 5,
      firstErr: '<nil>',
      body: 'hello',
    });
  });

  it('gives r.Host "localhost" to a request without a Host field (HTTP/1.0), and a Body that reads io.EOF when empty', async () => {
    const res = await raw(port, ['GET /?q HTTP/1.0\r\n\r\n']);
    expect(res.status).toBe(200);
    const r = JSON.parse(res.body) as Report;
    expect(r).toMatchObject({ host: 'localhost', header: {}, proto: 'HTTP/1.0', protoMinor: 0, remoteAddr: '127.0.0.1', contentLength: 0 });
    expect([r.noBody, r.firstRead, r.firstErr]).toEqual([false, 0, 'EOF']);
  });

  it('passes a chunked body whole, with its Content-Length and without Transfer-Encoding (chunked_transform)', async () => {
    const res = await raw(
      port,
      ['POST /chunked HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n', '6\r\n world\r\n0\r\n\r\n'],
      200,
    );
    expect(res.status).toBe(200);
    const r = JSON.parse(res.body) as Report;
    expect(r.header).toEqual({ Host: ['localhost'], Connection: ['close'], 'Content-Length': ['11'] });
    expect(r).toMatchObject({ contentLength: 11, transferEncoding: null, firstRead: 11, body: 'hello world' });
  });

  it("returns the whole body from one Body.Read even when it arrives in two segments (Unit's mirror app)", async () => {
    const half = 'a'.repeat(10000);
    const head = `POST /mirror HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${2 * half.length}\r\nConnection: close\r\n\r\n`;
    const res = await raw(port, [head + half, half], 200);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(2 * half.length));
    expect(res.body).toBe(half + half);
  });

  it('sets r.TLS to an empty ConnectionState and the scheme to https behind a TLS listener', async () => {
    expect((await w.control('PUT', '/certificates/b', readFileSync(join(TLS_FIXTURES, 'b.pem'), 'latin1'))).status).toBe(200);
    const tlsPort = await freePort();
    expect((await w.control('PUT', `/config/listeners/127.0.0.1:${tlsPort}`, { pass: 'applications/unit-request', tls: { certificate: 'b' } })).status).toBe(
      200,
    );
    const body = await new Promise<string>((ok, fail) => {
      const ca = readFileSync(join(TLS_FIXTURES, 'ca.pem'));
      httpsGet({ host: '127.0.0.1', port: tlsPort, path: '/tls', ca, servername: 'b.example.test', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => ok(text));
      }).on('error', fail);
    });
    const r = JSON.parse(body) as Report;
    expect(r).toMatchObject({ scheme: 'https', url: 'https:///tls', tls: { handshakeComplete: false, serverName: '' }, host: '127.0.0.1' });
  });
});
