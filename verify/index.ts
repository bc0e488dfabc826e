/**
 * The simulators by target name, configured from the model's mesh settings (what a cluster's mesh config
 * would say): Istio's root namespace and trust domain; Linkerd's trust domain and stock defaults.
 */
import type { PolicyModel } from '../compiler/model';
import type { MeshSimulator } from './contract';
import { createIstioSimulator } from './istio';
import { createLinkerdSimulator } from './linkerd';

export function simulatorFor(targetName: string, model: PolicyModel): MeshSimulator | undefined {
  switch (targetName) {
    case 'istio':
      return createIstioSimulator({ rootNamespace: model.mesh.rootNamespace, trustDomain: model.mesh.trustDomain });
    case 'linkerd':
      return createLinkerdSimulator({ trustDomain: model.mesh.trustDomain });
    default:
      return undefined;
  }
}
