/**
 * Unique names for duplicates (`name`, `name#2`, `name#3`, …) in linear time.
 *
 * Threat (issue 14): every reader de-duplicated by probing `name#2`, `name#3`, … from 2 for each repeat, so n
 * tensors sharing one name cost n²/2 probes (20,000 initializers with one name took 22 s). The next suffix to try is
 * remembered per base name; names only ever get added, so the result is the same as probing from 2.
 */
export class UniqueNames {
  private readonly used = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();

  /** True when `name` was claimed (or marked used). */
  has(name: string): boolean {
    return this.used.has(name);
  }

  /** Marks `name` as taken without renaming it. */
  add(name: string): void {
    this.used.add(name);
  }

  /** Claims `name`, known to be free ({@link has} said false): {@link claim} without its lookup. */
  take(name: string): string {
    this.used.add(name);
    return name;
  }

  /** Claims `base` if free, else the first free `suffixed(base, k)` for k = 2, 3, … (amortized O(1)). */
  claim(base: string, suffixed: (base: string, k: number) => string = (b, k) => `${b}#${k}`): string {
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    let k = this.nextSuffix.get(base) ?? 2;
    let name = suffixed(base, k);
    while (this.used.has(name)) name = suffixed(base, ++k);
    this.nextSuffix.set(base, k + 1);
    this.used.add(name);
    return name;
  }
}
