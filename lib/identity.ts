// sethostname(2), setdomainname(2).
import { native } from './native';
import * as v from './validate';
import { OutOfRangeError } from './errors';

/** HOST_NAME_MAX (and __NEW_UTS_LEN for the domain name). */
const MAX_LENGTH = 64;

export function checkHostname(name: string, value: unknown): string {
  v.string(name, value);
  if (Buffer.byteLength(value as string) > MAX_LENGTH) {
    throw new OutOfRangeError(`${name}.length`, `at most ${MAX_LENGTH} bytes`, Buffer.byteLength(value as string));
  }
  return value as string;
}

/** Sets the hostname of the calling process's UTS namespace (shared by all its threads unless one unshared). */
export function sethostname(name: string): void {
  native.sethostname(checkHostname('name', name));
}

/** Sets the NIS domain name of the calling process's UTS namespace. */
export function setdomainname(name: string): void {
  native.setdomainname(checkHostname('name', name));
}
