/** Every target policyc can compile to, by name. */
import type { Target } from './contract';
import { istioTarget } from './istio';
import { linkerdTarget } from './linkerd';

export const targets: ReadonlyMap<string, Target> = new Map([
  [istioTarget.name, istioTarget],
  [linkerdTarget.name, linkerdTarget],
]);
