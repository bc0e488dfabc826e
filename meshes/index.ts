/**
 * The one registry of meshes. Each entry joins a target (how the model is written for that mesh: its
 * objects, the CRD sets they instantiate, its rollout notes) with the simulator that checks it
 * independently. `--target`, `verify`, `diff`, `explain` and CRD checking all read this list; a new mesh
 * is a folder under `targets/`, one under `verify/`, its CRDs under `schemas/crds/`, and one line here.
 */
import type { MeshSettings } from '../model/model';
import type { Target } from '../model/target';
import { istioTarget } from '../targets/istio';
import { istioAmbientTarget } from '../targets/istio-ambient';
import { linkerdTarget } from '../targets/linkerd';
import type { MeshSimulator } from '../verify/simulator';
import { createIstioSimulator } from '../verify/istio';
import { createIstioAmbientSimulator } from '../verify/istio-ambient';
import { createLinkerdSimulator } from '../verify/linkerd';

/** The mesh settings a simulator is configured from. */
export type MeshSimulatorSettings = Pick<MeshSettings, 'trustDomain' | 'rootNamespace'> & Partial<Pick<MeshSettings, 'probeNetworks' | 'linkerd'>>;

export interface Mesh {
  readonly target: Target;
  /** The simulator configured as the cluster's mesh would be for this policy's settings. */
  readonly simulator: (settings: MeshSimulatorSettings) => MeshSimulator;
}

const registry: readonly Mesh[] = [
  { target: istioTarget, simulator: createIstioSimulator },
  {
    target: linkerdTarget,
    simulator: (settings) =>
      createLinkerdSimulator({
        ...settings,
        ...(settings.linkerd?.controlPlaneNamespace === undefined ? {} : { controlPlaneNamespace: settings.linkerd.controlPlaneNamespace }),
      }),
  },
  { target: istioAmbientTarget, simulator: createIstioAmbientSimulator },
];

/** Every mesh policyc compiles to, by target name, in registry order. */
export const meshes: ReadonlyMap<string, Mesh> = new Map(registry.map((mesh) => [mesh.target.name, mesh]));

/** Every target, by name. */
export const targets: ReadonlyMap<string, Target> = new Map(registry.map((mesh) => [mesh.target.name, mesh.target]));

/** The simulator of a target, configured from the model's mesh settings; undefined for a target not in the registry. */
export function simulatorFor(targetName: string, settings: MeshSimulatorSettings): MeshSimulator | undefined {
  return meshes.get(targetName)?.simulator(settings);
}
