import { JsModuleError, jsModuleRefs } from '@warden/http-router';
import type { Controller } from './controller';
import { invalidPath } from './control-error';
import type { ControlResponse } from './control-error';
import { handleUploads } from './upload-api';

/**
 * Unit's `/js_modules` section: `GET /js_modules[/<name>]` (the modules' texts), `PUT /js_modules/<name>` with a
 * module's text (not JSON; it must compile), `DELETE /js_modules/<name>` (refused while `settings.js_module` names it);
 * see handleUploads. `rest` is the URL path after `/js_modules`.
 */
export async function handleJsModules(controller: Controller, method: string, rest: string, body: Buffer): Promise<ControlResponse> {
  const store = controller.scripts;
  return handleUploads(
    {
      section: 'js_modules',
      noun: 'Script',
      store,
      read(name, path) {
        if (path.length > 0) throw invalidPath();
        return store!.get(name)!.text;
      },
      uploaded: 'Script uploaded.',
      unusable: (e) => (e instanceof JsModuleError ? 'Compilation of the JS module failed.' : undefined),
      usedAt(config, name) {
        const user = jsModuleRefs(config.settings).find((r) => r.name.toLowerCase() === name.toLowerCase());
        return user === undefined ? undefined : `${user.path} names it.`;
      },
      codes: {
        name: 'WARDEN_ERR_SCRIPT_NAME',
        exists: 'WARDEN_ERR_SCRIPT_EXISTS',
        invalid: 'WARDEN_ERR_SCRIPT_INVALID',
        inUse: 'WARDEN_ERR_SCRIPT_IN_USE',
        store: 'WARDEN_ERR_SCRIPT_STORE',
      },
    },
    controller,
    method,
    rest,
    body,
  );
}
