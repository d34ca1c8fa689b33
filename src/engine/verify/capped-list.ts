/** Keeps the first `limit` entries and counts all of them: reports name keys, but never hold a table in memory. */
export class CappedList<T> {
  readonly items: T[] = [];
  count = 0;

  constructor(readonly limit: number) {}

  add(item: T): void {
    this.count++;
    if (this.items.length < this.limit) this.items.push(item);
  }

  get truncated(): boolean {
    return this.count > this.items.length;
  }
}
