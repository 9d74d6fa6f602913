// The one module that loads the addon. A prebuild for this platform is used if present,
// else the build from source (npm install runs node-gyp when no prebuild matches).
import path from 'node:path';
import type { NativeAddon } from '../types/native';
import { systemError } from './errors';

function load(): NativeAddon {
  const root = path.join(__dirname, '..');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require('node-gyp-build')(root) as NativeAddon;
    addon.init(systemError);
    return addon;
  } catch (cause) {
    if (process.platform !== 'linux') {
      throw new Error(`nsbox runs on Linux only (this is ${process.platform})`, { cause });
    }
    throw new Error(
      `nsbox: could not load its native addon for linux-${process.arch} (Node ${process.versions.node}). ` +
        'No prebuild matched and no build from source was found: install a C++ compiler, python3 and make, ' +
        `then run "npm rebuild nsbox". Cause: ${(cause as Error).message}`,
      { cause },
    );
  }
}

export const native: NativeAddon = load();

/** The events of a native fd watch (fdWatch's callback and fdWatchStart). */
export const WATCH_READABLE = 1;
export const WATCH_WRITABLE = 2;
export const WATCH_PRIORITIZED = 4;
/** POLLERR: the watch has stopped. */
export const WATCH_ERROR = 8;
/** POLLHUP (libuv reports it as whatever the watch waits for, too). */
export const WATCH_HANGUP = 16;
