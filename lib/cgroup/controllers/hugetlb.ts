// hugetlb: how much of each huge page size the group may fault in.
import { InvalidArgValueError } from '../../errors';
import * as v from '../../validate';
import { bytes, type ByteLimit } from '../units';
import type { HostFacts, Write } from './common';

/**
 * `hugetlb.<size>.max` per huge page size, named as the kernel names them.
 * @example { '2MB': '64M' }
 */
export type HugetlbResources = Readonly<Record<string, ByteLimit>>;

export function hugetlbWrites(name: string, value: unknown, host: HostFacts): Write[] {
  const writes: Write[] = [];
  for (const [size, limit] of Object.entries(v.object(name, value))) {
    if (limit === undefined) continue;
    if (!host.hugepageSizes.includes(size)) {
      throw new InvalidArgValueError(`${name}['${size}']`, limit, `names a huge page size this host does not have (it has: ${host.hugepageSizes.join(', ') || 'none'})`);
    }
    writes.push({ file: `hugetlb.${size}.max`, value: `${bytes(`${name}['${size}']`, limit)}` });
  }
  return writes;
}
