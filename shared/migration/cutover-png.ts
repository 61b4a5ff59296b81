import { deflateSync } from 'node:zlib';

/**
 * The cutover curve as a small PNG, for Slack: Block Kit shows an image only when it can fetch a
 * PNG, JPEG or GIF from a URL, so the SVG of the dashboard will not do. Drawn here without any
 * native or browser dependency: one line per platform (daily revenue, the dashboard's colours and
 * order), a baseline, and dashed verticals at the migration's start and cutover. No text: the
 * Slack message carries the legend.
 */

export interface CutoverSeries {
  platform: string;
  /** One value per day, oldest first (geometry only: money stays decimal text elsewhere). */
  values: number[];
}

type Rgb = [number, number, number];

const hex = (c: string): Rgb => [1, 3, 5].map((i) => Number.parseInt(c.slice(i, i + 2), 16)) as Rgb;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An RGB image as PNG bytes (8-bit truecolour, no filter). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export function cutoverPng(
  series: readonly CutoverSeries[],
  palette: readonly string[],
  marks: readonly number[],
  width = 600,
  height = 200,
): Buffer {
  const img = new Uint8Array(width * height * 3).fill(255);
  const set = (x: number, y: number, c: Rgb) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    img.set(c, (y * width + x) * 3);
  };
  const pad = 10;
  const days = Math.max(1, ...series.map((s) => s.values.length));
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values));
  const px = (i: number) => Math.round(pad + (i * (width - 2 * pad)) / Math.max(1, days - 1));
  const py = (v: number) => Math.round(height - pad - (v / max) * (height - 2 * pad));
  for (let x = pad; x < width - pad; x++) set(x, height - pad, [200, 200, 200]);
  for (const day of marks)
    for (let y = pad; y < height - pad; y++) if (Math.floor(y / 4) % 2 === 0) set(px(day), y, [120, 120, 120]);
  series.forEach((s, k) => {
    const c = hex(palette[k % palette.length]);
    for (let i = 1; i < s.values.length; i++) {
      // Bresenham between two days' points, 2 px thick.
      let [x0, y0] = [px(i - 1), py(s.values[i - 1])];
      const [x1, y1] = [px(i), py(s.values[i])];
      const dx = Math.abs(x1 - x0);
      const dy = -Math.abs(y1 - y0);
      const sx = x0 < x1 ? 1 : -1;
      const sy = y0 < y1 ? 1 : -1;
      let err = dx + dy;
      for (;;) {
        set(x0, y0, c);
        set(x0, y0 + 1, c);
        if (x0 === x1 && y0 === y1) break;
        const e2 = 2 * err;
        if (e2 >= dy) {
          err += dy;
          x0 += sx;
        }
        if (e2 <= dx) {
          err += dx;
          y0 += sy;
        }
      }
    }
  });
  return encodePng(width, height, img);
}
