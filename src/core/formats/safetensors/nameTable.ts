/**
 * A set of tensor names in typed arrays: open addressing over 32-bit FNV-1a hashes of the names' UTF-16 code units.
 * The fast header and index parsers (fastParse.ts) hash each name while they scan it, so a sharded model's 100,000
 * names cost one pass over their characters and no `Map` insertions (a `Map` of 100,000 fresh names measured ~30 ms,
 * a third of the cost of parsing the headers). Names are compared only when their full hashes are equal.
 */

/** FNV-1a offset basis and prime (32-bit). */
export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;

/** The hash the fast parsers compute while scanning a name: FNV-1a over its UTF-16 code units. */
export function hashName(name: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), FNV_PRIME);
  return h;
}

/** Distinct names in insertion order, each with its hash; `find` and `add` by name and hash. */
export class NameTable implements NameSet {
  /** Names in insertion order (index = the name's id). */
  readonly names: string[] = [];
  private hashes: Int32Array;
  /** Slot → id + 1 (0 = empty). */
  private slots: Int32Array;
  private mask: number;

  constructor(expected = 16) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    this.hashes = new Int32Array(Math.max(8, expected));
  }

  get size(): number {
    return this.names.length;
  }

  nameAt(id: number): string {
    return this.names[id]!;
  }

  /** The id of `name` (whose {@link hashName} is `hash`), or -1. */
  find(name: string, hash: number): number {
    const { slots, mask, hashes, names } = this;
    // The probe steps from the slot before the hash's, so the step runs on every probe (see ByteNameTable.findBytes).
    for (let s = ((hash & mask) + mask) & mask; ; ) {
      s = (s + 1) & mask;
      const e = slots[s]!;
      if (e === 0) return -1;
      if (hashes[e - 1] === hash && names[e - 1] === name) return e - 1;
    }
  }

  /** Adds `name` and returns its new id, or returns `-1 - id` of the equal name already present. */
  add(name: string, hash: number): number {
    const { slots, mask, names } = this;
    let s = hash & mask;
    for (; ; s = (s + 1) & mask) {
      const e = slots[s]!;
      if (e === 0) break;
      if (this.hashes[e - 1] === hash && names[e - 1] === name) return -e;
    }
    const id = names.length;
    if (id === this.hashes.length) {
      const grown = new Int32Array(id * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[id] = hash;
    names.push(name);
    slots[s] = id + 1;
    if ((id + 1) * 2 > slots.length) this.grow();
    return id;
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    const { hashes } = this;
    for (let id = 0; id < this.names.length; id++) {
      let s = hashes[id]! & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = id + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** What a shard index needs of its names: their count, the id of a name, and a name by id (for messages). */
export interface NameSet {
  readonly size: number;
  /** The id of `name` (whose {@link hashName} is `hash`), or -1. */
  find(name: string, hash: number): number;
  nameAt(id: number): string;
}

/**
 * A {@link NameTable} whose names stay where they are in a document's bytes, as [start, end) ranges of printable ASCII
 * (fastParse.ts's index reader, which checked them): a 100,000-entry index then costs no decoded text and no string
 * per name. `find` compares a name's UTF-16 code units with the bytes; a name is decoded only when asked for.
 */
export class ByteNameTable implements NameSet {
  private count = 0;
  private hashes: Int32Array;
  /** Per id: start and end of the name in `bytes`. */
  private ranges: Int32Array;
  private slots: Int32Array;
  private mask: number;
  /** See {@link name}: the decoded bytes from `textStart` on. */
  private text: string | undefined;
  private textStart = 0;

  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, expected = 16) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    this.hashes = new Int32Array(Math.max(8, expected));
    this.ranges = new Int32Array(2 * Math.max(8, expected));
  }

  get size(): number {
    return this.count;
  }

  nameAt(id: number): string {
    return asciiText(this.bytes, this.ranges[2 * id]!, this.ranges[2 * id + 1]!);
  }

  /**
   * Name `id` as a slice of one decoded text of the bytes from the first name to the last (made on first use): a
   * sharded model's tensor names, with no decoded copy of each shard's header and no string of their own. The bytes
   * between names are the document's punctuation and shard strings, all printable ASCII as checked by the scan.
   */
  name(id: number): string {
    const text = this.text ?? this.decode();
    return text.slice(this.ranges[2 * id]! - this.textStart, this.ranges[2 * id + 1]! - this.textStart);
  }

  /**
   * Makes the one decoded text {@link name} slices (the index reader calls it once all names are added, so the
   * per-name calls never take this branch, which compiled code would not have seen run).
   */
  decode(): string {
    this.textStart = this.count > 0 ? this.ranges[0]! : 0;
    return (this.text = asciiText(this.bytes, this.textStart, this.count > 0 ? this.ranges[2 * this.count - 1]! : 0));
  }

  find(name: string, hash: number): number {
    const { slots, mask, hashes, ranges, bytes } = this;
    const len = name.length;
    for (let s = ((hash & mask) + mask) & mask; ; ) {
      s = (s + 1) & mask;
      const e = slots[s]!;
      if (e === 0) return -1;
      if (hashes[e - 1] !== hash) continue;
      const start = ranges[2 * e - 2]!;
      if (ranges[2 * e - 1]! - start !== len) continue;
      let i = 0;
      while (i < len && name.charCodeAt(i) === bytes[start + i]) i++;
      if (i === len) return e - 1;
    }
  }

  /**
   * When `other` (`otherView` is a DataView of the same bytes) holds name `id` at `start`, followed by a closing quote
   * (`"`): the end of the name there (the quote's position); else -1. `other` past its end is a mismatch.
   */
  matchAt(id: number, other: Uint8Array, otherView: DataView, start: number): number {
    if (id >= this.count) return -1;
    const bytes = this.bytes;
    const at = this.ranges[2 * id]!;
    const len = this.ranges[2 * id + 1]! - at;
    const end = start + len;
    if (end >= other.length || other[end] !== 0x22) return -1;
    // Four bytes at a time, then the rest.
    const view = this.view;
    let i = 0;
    for (; i + 4 <= len; i += 4) if (otherView.getInt32(start + i, true) !== view.getInt32(at + i, true)) return -1;
    for (; i < len; i++) if (other[start + i] !== bytes[at + i]) return -1;
    return end;
  }

  /** The id of the name held by `other` [start, end) (printable ASCII, whose {@link hashName} is `hash`), or -1. */
  findBytes(other: Uint8Array, start: number, end: number, hash: number): number {
    const { slots, mask, hashes, ranges, bytes } = this;
    const len = end - start;
    // The probe steps from the slot before the hash's, so the step runs on every probe: a collision (rare, and not in
    // every header) then takes no code that compiled code has not seen run (which would send it back to the
    // interpreter and be compiled again).
    for (let s = ((hash & mask) + mask) & mask; ; ) {
      s = (s + 1) & mask;
      const e = slots[s]!;
      if (e === 0) return -1;
      if (hashes[e - 1] !== hash) continue;
      const at = ranges[2 * e - 2]!;
      if (ranges[2 * e - 1]! - at !== len) continue;
      let i = 0;
      while (i < len && other[start + i] === bytes[at + i]) i++;
      if (i === len) return e - 1;
    }
  }

  /** Adds the name at bytes [start, end) and returns its new id, or returns `-1 - id` of the equal name already present. */
  add(start: number, end: number, hash: number): number {
    const { slots, mask, bytes } = this;
    const len = end - start;
    let s = hash & mask;
    for (; ; s = (s + 1) & mask) {
      const e = slots[s]!;
      if (e === 0) break;
      if (this.hashes[e - 1] !== hash) continue;
      const other = this.ranges[2 * e - 2]!;
      if (this.ranges[2 * e - 1]! - other !== len) continue;
      let i = 0;
      while (i < len && bytes[other + i] === bytes[start + i]) i++;
      if (i === len) return -e;
    }
    const id = this.count;
    if (id === this.hashes.length) {
      const grown = new Int32Array(id * 2);
      grown.set(this.hashes);
      this.hashes = grown;
      const grownRanges = new Int32Array(id * 4);
      grownRanges.set(this.ranges);
      this.ranges = grownRanges;
    }
    this.hashes[id] = hash;
    this.ranges[2 * id] = start;
    this.ranges[2 * id + 1] = end;
    this.count = id + 1;
    slots[s] = id + 1;
    if ((id + 1) * 2 > slots.length) this.grow();
    return id;
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    const { hashes } = this;
    for (let id = 0; id < this.count; id++) {
      let s = hashes[id]! & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = id + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

const ascii = new TextDecoder('utf-8');

/** Bytes [start, end) of printable ASCII as a string. */
export function asciiText(bytes: Uint8Array, start: number, end: number): string {
  return ascii.decode(bytes.subarray(start, end));
}
