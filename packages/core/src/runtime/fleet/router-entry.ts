// Entry of a wardend router process (started by main, see fleet/router-fleet.ts). Not an API.
import { runRouterProcess } from './router-process';

runRouterProcess();
