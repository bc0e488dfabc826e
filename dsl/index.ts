/**
 * policyc: typed mesh policy. Import everything from `policyc`.
 *
 * @example
 * import { mesh, namespace, service, allow } from 'policyc';
 */
export {
  namespace,
  service,
  gateway,
  anyone,
  authenticated,
  ipBlocks,
  identity,
  spiffe,
  trustDomain,
  both,
  remoteIpBlocks,
  allow,
  deny,
  mesh,
  plaintext,
  outside,
  reaches,
  neverReaches,
} from './builders';
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
  SpiffeId,
  IpBlocks,
  IdentitySource,
  IdentityPeer,
  SpiffePeer,
  TrustDomainPeer,
  BothPeer,
  RemoteIpBlocks,
  GatewayKind,
  Gateway,
  AnyGateway,
  GatewayOptions,
  DestinationOf,
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
