// Where napbox's own files are (container/, the dashboard's static files):
// the folder holding its package.json, found by walking up from a module.
// The same answer whether the module runs from src/ through tsx or from the
// compiled dist/src/.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function projectRoot(moduleUrl: string): string {
  let dir = path.dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'container'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`napbox's folder (with package.json and container/) not found above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
}
