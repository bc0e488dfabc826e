/**
 * What a long-lived session (`build --watch`) keeps between builds: per emitted object, by its content, its CRD
 * violations and its YAML. Both depend on the object's content only (and the target's name, part of the key), so
 * an object that an edit did not change is neither validated nor serialised again. Only the objects of the last
 * build are kept, so the memo never grows past one build's output. It also keeps each target's last output, which
 * the next build splices its recompiled namespaces into (compiler/splice.ts).
 */
import type { PolicyModel } from '../model/model';
import type { TargetOutput } from '../model/target';
import type { ModelFingerprint } from './splice';
import { ModelMemo } from './model-memo';

export interface MemoEntry {
  violations?: readonly unknown[];
  yaml?: string;
}

/** A target's last output, and the model (and its fingerprint) it was compiled from: what the next build splices into. */
export interface TargetMemo {
  readonly model: PolicyModel;
  readonly fingerprint: ModelFingerprint;
  readonly output: TargetOutput;
  /** For a target that shares objects across namespaces (`Target.acrossNamespaces`), the per-namespace output `output` was made of: what the next build splices into. */
  readonly each?: TargetOutput;
  /** When the per-namespace output was spliced: the namespaces recompiled (sorted, space-separated) and their sub-model's output. */
  readonly partial?: { readonly reached: string; readonly output: TargetOutput };
}

export class EmitMemo {
  /** Per target name, its last output (compiler/splice.ts). */
  readonly targets = new Map<string, TargetMemo>();
  /** What the model, its validation and its fingerprint keep between builds (compiler/model-memo.ts). */
  readonly model = new ModelMemo();

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
