// `node --require unit-http/loader app.js`: Unit's loader for CommonJS apps. It makes `require('http')`,
// `require('node:http')` and `require('unit-http')` return unit-http's module (and `require('websocket')` /
// `require('unit-http/websocket')` its WebSocket module), so that an unmodified app, and express or any framework
// that creates its server with node:http, is served by wardend with Unit's semantics. As in Unit it acts only when
// loaded by `--require` (a module that requires it later changes nothing).
//
// Warden additions: it also loads Warden's own preload, so that a server created from node:http by a path the
// substitution cannot reach (an ES module importing 'node:http' without `--loader unit-http/loader.mjs`) is served
// too, with node:http's semantics; and requires made by Warden's own runtime files keep node:http itself.
import Module = require('module');
import * as path from 'path';

const kInstalled = Symbol.for('warden.unit-http.loader');

interface RequireHost {
  filename?: string;
  require(id: string): unknown;
}

function install(): void {
  const proto = (Module as unknown as { prototype: RequireHost }).prototype;
  const original = proto.require as RequireHost['require'] & { [kInstalled]?: true };
  if (original[kInstalled]) return;

  // Loaded before the hook goes in: their own `require('http')` calls then get node:http.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@warden/app-types/preload');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const unitHttp = require('./http') as unknown;
  const websocketPath = require.resolve('./websocket');
  // Compiled files of unit-http and of Warden's runtime: a lazy `require('http')` of theirs must get node:http.
  const ownRoots = [__dirname + path.sep, path.join(path.dirname(require.resolve('@warden/app-types/package.json')), 'dist') + path.sep];
  const fromWarden = (filename: string | undefined): boolean => filename !== undefined && ownRoots.some((root) => filename.startsWith(root));

  const substitute = function require(this: RequireHost, id: string): unknown {
    switch (id) {
      case 'http':
      case 'node:http':
      case 'unit-http':
        if (!fromWarden(this.filename)) return unitHttp;
        break;
      case 'websocket':
      case 'unit-http/websocket':
        if (!fromWarden(this.filename)) return original.call(this, websocketPath);
        break;
    }
    // eslint-disable-next-line prefer-rest-params
    return original.apply(this, arguments as unknown as [string]);
  } as RequireHost['require'] & { [kInstalled]?: true };
  substitute[kInstalled] = true;
  proto.require = substitute;
}

// `module.parent` of a `--require`d module is Node's 'internal/preload' module.
if ((module as { parent?: { id?: string } | null }).parent?.id === 'internal/preload') install();
