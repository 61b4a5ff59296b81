import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cutoverPng } from '#shared/migration/cutover-png.js';

/** The PNG Slack shows: a valid image whose pixels carry each platform's line and the markers. */

function decode(png: Buffer) {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  const types: string[] = [];
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.subarray(at + 4, at + 8).toString('ascii');
    const data = png.subarray(at + 8, at + 8 + len);
    types.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([...data.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
    }
    if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe((width * 3 + 1) * height);
  const pixel = (x: number, y: number) => {
    const o = y * (width * 3 + 1) + 1 + x * 3;
    return `${raw[o]},${raw[o + 1]},${raw[o + 2]}`;
  };
  const colours = new Set<string>();
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) colours.add(pixel(x, y));
  return { width, height, colours, pixel };
}

describe('cutover curve PNG', () => {
  it('draws one line per platform in its colour, the start and cutover markers, on white', () => {
    const png = cutoverPng(
      [
        { platform: 'hitpath', values: [10, 9, 5, 1, 0] },
        { platform: 'everflow', values: [0, 1, 5, 9, 10] },
      ],
      ['#4e79a7', '#f28e2b'],
      [1, 3],
      300,
      120,
    );
    const img = decode(png);
    expect([img.width, img.height]).toEqual([300, 120]);
    expect(img.colours).toContain('255,255,255');
    expect(img.colours).toContain('78,121,167'); // #4e79a7
    expect(img.colours).toContain('242,142,43'); // #f28e2b
    expect(img.colours).toContain('120,120,120'); // dashed markers
    // hitpath starts high on the left, everflow ends high on the right.
    expect(img.pixel(10, 10)).toBe('78,121,167');
    expect(img.pixel(290, 10)).toBe('242,142,43');
  });

  it('a flat or empty curve still encodes', () => {
    expect(decode(cutoverPng([], ['#000000'], [])).colours.size).toBeGreaterThan(0);
    expect(decode(cutoverPng([{ platform: 'x', values: [0, 0] }], ['#000000'], [0])).width).toBe(600);
  });
});
