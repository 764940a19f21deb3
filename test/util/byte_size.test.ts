// --max-shard-size's reader: transformers' spellings of a size, and clear errors.
import { expect } from 'chai';

import { parseByteSize } from '../../lib/util/byte_size.ts';

describe('parseByteSize', () => {
  it('reads bytes, decimal and binary units, case-insensitive', () => {
    const cases: [string, number][] = [
      ['4000000', 4_000_000], ['5GB', 5e9], ['500mb', 5e8], ['1.5GiB', 1.5 * 2 ** 30], ['64 KiB', 65_536], ['2tb', 2e12], ['1kb', 1000], ['7b', 7],
    ];
    for (const [text, bytes] of cases) expect(parseByteSize(text, '--max-shard-size'), text).to.equal(bytes);
  });

  it('refuses what is not a positive size, naming the flag and the value', () => {
    for (const text of ['', 'abc', '0', '0.4', '-1GB', '5 GBs', '1e9', 'GB']) {
      expect(() => parseByteSize(text, '--max-shard-size'), text).to.throw(`--max-shard-size: expected a size such as 5GB, 500MB, 1.5GiB or a number of bytes but received "${text}"`);
    }
  });
});
