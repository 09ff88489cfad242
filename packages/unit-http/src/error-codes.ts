/** Every stable error code @warden/unit-http raises (in the app process), with its meaning. None at present: the
 * WebSocket module (`unit-http/websocket`) throws WebSocket-Node's own errors, as Unit's does. */
export const ERROR_CODES: Readonly<Record<string, string>> = {};
