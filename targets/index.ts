/** Every target policyc can compile to, by name. */
import type { Target } from './contract';
import { istioTarget } from './istio';

export const targets: ReadonlyMap<string, Target> = new Map([[istioTarget.name, istioTarget]]);
