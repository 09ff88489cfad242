// An ES module app written for Unit: started as
// `node --loader unit-http/loader.mjs --require unit-http/loader app.mjs`, `import ... from 'http'` is unit-http.
import http, { createServer } from 'http';
import unitHttp from 'unit-http';
import routes from './routes.cjs';

const info = { loaderSubstitutesHttp: http === unitHttp && createServer === unitHttp.createServer };
createServer(routes('esm', info)).listen(8080);
