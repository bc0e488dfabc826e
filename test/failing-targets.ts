/**
 * Targets that fail, for the tests of targets compiled in a worker thread (test/parallel-targets.test.ts): one
 * throws, one refuses the model with a located error. The worker fixture (targets-worker-fixture.ts) serves them
 * beside the mesh registry's, so a build can name them on either thread.
 */
import { diagnostic } from '../diagnostics/diagnostic';
import type { Target } from '../model/target';
import { targets } from '../meshes';

const base = { crds: [], kinds: [], revocationNote: () => '' } as const;

export const throwingTarget: Target = {
  ...base,
  name: 'throwing',
  compile(model) {
    throw new TypeError(`throwing: cannot compile ${model.rules.length} rules`);
  },
};

export const refusingTarget: Target = {
  ...base,
  name: 'refusing',
  compile(model, context) {
    const rule = model.rules[0];
    return {
      objects: [],
      diagnostics: [
        diagnostic('linkerd-deny-inexpressible', `refusing: ${rule?.id ?? 'no rule'} cannot be written.`, context.spanOf(rule?.location)),
        diagnostic('linkerd-deny-inexpressible', 'refusing: and nothing else either.'),
      ],
    };
  },
};

/** The registry's targets and the failing ones, by name. */
export const fixtureTargets: ReadonlyMap<string, Target> = new Map([...targets, [throwingTarget.name, throwingTarget], [refusingTarget.name, refusingTarget]]);
