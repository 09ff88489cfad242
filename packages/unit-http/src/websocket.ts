// `require('unit-http/websocket')` (and `require('websocket')` under the loader, as in Unit). Unit serves WebSockets
// through its own module; Warden's channel does not carry upgraded connections yet, so an app that needs them is told
// so when it loads the module, instead of starting and never receiving a connection.
throw Object.assign(
  new Error(
    'WARDEN_ERR_UNIT_WEBSOCKET: unit-http/websocket is not supported by Warden: the shared-memory channel carries ' +
      'no upgraded (WebSocket) connections. Serve WebSockets from a separate process, or run the app without this module.',
  ),
  { code: 'WARDEN_ERR_UNIT_WEBSOCKET' },
);
