/**
 * policyc: typed mesh policy. Import everything from `policyc`.
 *
 * @example
 * import { mesh, namespace, service, allow } from 'policyc';
 */
export { namespace, service, anyone, authenticated, ipBlocks, identity, allow, deny, mesh } from './builders';
export type {
  Namespace,
  NamespaceOptions,
  PortSpec,
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
} from './builders';
export type { MtlsMode, Protocol, HttpMethod, PathPattern, DefaultAction, DeclarationSite } from './types';
