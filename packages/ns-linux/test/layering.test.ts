import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : []);
}

describe('@warden/ns-linux layering', () => {
  it('imports only the public entry points of @warden/core and @warden/idmap', () => {
    for (const file of sources(path.resolve(__dirname, '../src'))) {
      const imports = readFileSync(file, 'utf8').match(/from '@warden\/[^']+'/g) ?? [];
      for (const imp of imports) expect([file, imp]).toEqual([file, expect.stringMatching(/^from '@warden\/(core|idmap)'$/)]);
    }
  });

  it('the example plugin uses only @warden/core', () => {
    const src = readFileSync(path.resolve(__dirname, '../../../examples/plugins/time-namespace/index.js'), 'utf8');
    expect(src.match(/require\('[^']+'\)/g)).toEqual(["require('@warden/core')"]);
  });
});
