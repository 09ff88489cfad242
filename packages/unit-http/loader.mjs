// `node --loader unit-http/loader.mjs app.mjs`: Unit's loader for ES module apps. `import ... from 'http'` (or
// 'node:http') resolves to unit-http's module, so an unmodified app is served by wardend with Unit's semantics;
// `import ... from 'websocket'` resolves to unit-http's WebSocket module, as in Unit. Everything else resolves as
// usual. (Plain JavaScript, shipped as is: Node loads loader hooks as ES modules.)
const HTTP = new URL('./dist/http.js', import.meta.url).href;
const WEBSOCKET = new URL('./dist/websocket.js', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  switch (specifier) {
    case 'http':
    case 'node:http':
      return { url: HTTP, format: 'commonjs', shortCircuit: true };
    case 'websocket':
      return { url: WEBSOCKET, format: 'commonjs', shortCircuit: true };
    default:
      return nextResolve(specifier, context);
  }
}
