// A CommonJS entry that loads the ES module app (Unit's "loader/es_modules_websocket_indirect" shape).
import('./ws-unit-esm.mjs');
