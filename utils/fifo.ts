/**
 * A first-in first-out queue on a growable ring buffer: O(1) push and shift, no per-item
 * allocation (`Array.prototype.shift` is O(n) on long arrays).
 *
 * @module
 */

/** A FIFO queue. */
export class Fifo<T> {
  #items: (T | undefined)[];
  #head = 0;
  #length = 0;

  constructor(capacity = 16) {
    let size = 4;
    while (size < capacity) size *= 2;
    this.#items = new Array(size);
  }

  /** Number of queued items. */
  get length(): number {
    return this.#length;
  }

  /** Appends an item. */
  push(item: T): void {
    const items = this.#items;
    if (this.#length === items.length) this.#grow();
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = item;
    this.#length++;
  }

  /** Prepends an item. */
  unshift(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#items.length - 1);
    this.#items[this.#head] = item;
    this.#length++;
  }

  /** Removes and returns the first item. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#length--;
    return item;
  }

  /** The first item, without removing it. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** The item at position `i` from the front. */
  at(i: number): T | undefined {
    return i < this.#length ? this.#items[(this.#head + i) & (this.#items.length - 1)] : undefined;
  }

  /** Removes and returns every item. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  #grow(): void {
    const old = this.#items;
    const grown = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#length; i++) grown[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = grown;
    this.#head = 0;
  }
}
