/**
 * What a long-lived session (`build --watch`) keeps between builds: per emitted object, by its content, its CRD
 * violations and its YAML. Both depend on the object's content only (and the target's name, part of the key), so
 * an object that an edit did not change is neither validated nor serialised again. Only the objects of the last
 * build are kept, so the memo never grows past one build's output.
 */
export interface MemoEntry {
  violations?: readonly unknown[];
  yaml?: string;
}

export class EmitMemo {
  private last = new Map<string, MemoEntry>();
  private next = new Map<string, MemoEntry>();
  private readonly keys = new WeakMap<object, string>();

  /** The entry of an object of a target, created empty the first time its content is seen. */
  entry(target: string, object: object): MemoEntry {
    let key = this.keys.get(object);
    if (key === undefined) {
      key = `${target}\n${JSON.stringify(object)}`;
      this.keys.set(object, key);
    }
    let entry = this.next.get(key);
    if (entry === undefined) {
      entry = this.last.get(key) ?? {};
      this.next.set(key, entry);
    }
    return entry;
  }

  /** Ends a build: what it did not use is forgotten. */
  endBuild(): void {
    this.last = this.next;
    this.next = new Map();
  }
}
