/**
 * policyc: typed mesh policy. Import everything from `policyc`.
 *
 * @example
 * import { mesh, namespace, service, allow } from 'policyc';
 */
export { namespace, service, anyone, authenticated, ipBlocks, identity, allow, deny, mesh, plaintext, outside, reaches, neverReaches } from './builders';
export type {
  Namespace,
  NamespaceOptions,
  PortSpec,
  PortProbes,
  Probe,
  Service,
  AnyService,
  ServiceOptions,
  PeerSource,
  Source,
  RuleAction,
  AccessRule,
  RuleBuilder,
  MeshPolicy,
  MeshOptions,
  AssertionCaller,
  PolicyAssertion,
} from './builders';
export type { MtlsMode, Protocol, HttpMethod, PathPattern, DefaultAction, Enforcement, PolicyScope, Acknowledgements, DeclarationSite } from './types';
