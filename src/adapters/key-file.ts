/**
 * Key files Hourglass creates for itself when told to (`generateKey: true`, demos): written
 * whole with mode 0600 in a 0700 directory, never over an existing file. Two servers (or two
 * connectors after a reload) starting at once may race: the first file written is kept.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Creates `path` with `contents` unless it exists; true when this call wrote it. Throws other errors. */
export function createKeyFile(path: string, contents: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, contents, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  chmodSync(path, 0o600); // whatever the umask
  return true;
}
