#!/usr/bin/env node
// Draws media/icon.png (128×128, the Marketplace icon): a magnifying lens over four bars of falling height — weights
// at FP32, FP16, FP8 and INT4 — on a dark rounded square. Plain code, no image library: shapes are tested per pixel
// at 4×4 subsamples (anti-aliasing) and written as an RGBA PNG with node:zlib.
// Usage: node scripts/drawIcon.mjs [out.png]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const SIZE = 128;
const SUB = 4;

/** Layers painted in order; each is a colour and an inside(x, y) test in icon coordinates (0..128). */
const inRoundedRect = (x0, y0, x1, y1, r) => (x, y) => {
  const cx = Math.min(Math.max(x, x0 + r), x1 - r), cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r && x >= x0 && x <= x1 && y >= y0 && y <= y1;
};
const lens = { cx: 56, cy: 54, r: 34, ring: 7 };
const inDisc = (cx, cy, r) => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
const inRing = (cx, cy, r, w) => (x, y) => { const d = Math.hypot(x - cx, y - cy); return d <= r && d >= r - w; };
const inCapsule = (ax, ay, bx, by, w) => (x, y) => {
  const dx = bx - ax, dy = by - ay, t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy)) <= w / 2;
};
const insideLens = inDisc(lens.cx, lens.cy, lens.r - lens.ring);
const bar = (i, h, color) => ({ color, inside: (x, y) => insideLens(x, y) && inRoundedRect(34 + i * 12, 74 - h, 43 + i * 12, 80, 2)(x, y) });

const layers = [
  { color: [30, 36, 52, 255], inside: inRoundedRect(4, 4, 124, 124, 22) },
  { color: [44, 54, 78, 255], inside: insideLens },
  bar(0, 44, [86, 156, 214, 255]), // FP32
  bar(1, 34, [78, 201, 176, 255]), // FP16
  bar(2, 24, [220, 200, 100, 255]), // FP8
  bar(3, 14, [232, 120, 90, 255]), // INT4
  { color: [210, 222, 240, 255], inside: inCapsule(81, 79, 110, 108, 13) },
  { color: [210, 222, 240, 255], inside: inRing(lens.cx, lens.cy, lens.r, lens.ring) },
];

function render() {
  const rgba = Buffer.alloc(SIZE * SIZE * 4);
  for (let py = 0; py < SIZE; py++) {
    for (let px = 0; px < SIZE; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < SUB; sy++) {
        for (let sx = 0; sx < SUB; sx++) {
          const x = px + (sx + 0.5) / SUB, y = py + (sy + 0.5) / SUB;
          let c = [0, 0, 0, 0];
          for (const l of layers) if (l.inside(x, y)) c = l.color;
          r += c[0] * c[3]; g += c[1] * c[3]; b += c[2] * c[3]; a += c[3];
        }
      }
      const o = (py * SIZE + px) * 4;
      rgba[o] = a ? Math.round(r / a) : 0; rgba[o + 1] = a ? Math.round(g / a) : 0; rgba[o + 2] = a ? Math.round(b / a) : 0;
      rgba[o + 3] = Math.round(a / (SUB * SUB));
    }
  }
  return rgba;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
const crc32 = (buf) => { let c = 0xffffffff; for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** PNG bytes of the icon (colour type 6: 8-bit RGBA, filter 0 on every row). */
export function iconPng() {
  const rgba = render();
  const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
  for (let y = 0; y < SIZE; y++) rgba.copy(raw, y * (SIZE * 4 + 1) + 1, y * SIZE * 4, (y + 1) * SIZE * 4);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(SIZE, 0); ihdr.writeUInt32BE(SIZE, 4); ihdr[8] = 8; ihdr[9] = 6;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../media/icon.png'));
  writeFileSync(out, iconPng());
  console.log(`icon: ${out}`);
}
