/**
 * policyc: typed mesh policy. Import everything from `policyc`.
 *
 * @example
 * import { mesh, namespace, service, allow } from 'policyc';
 */
export {
  namespace,
  service,
  anyone,
  authenticated,
  ipBlocks,
  identity,
  jwtIssuer,
  requestIdentity,
  exact,
  prefix,
  present,
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
  Service,
  AnyService,
  ServiceOptions,
  PeerSource,
  Source,
  RuleAction,
  AccessRule,
  RuleBuilder,
  HttpScope,
  AnyPortScope,
  JwtIssuer,
  JwtIssuerOptions,
  RequestIdentity,
  HeaderCondition,
  HeaderConditions,
  MeshPolicy,
  MeshOptions,
  AssertionCaller,
  PolicyAssertion,
} from './builders';
export type {
  MtlsMode,
  Protocol,
  HttpMethod,
  PathPattern,
  HeaderName,
  DefaultAction,
  Enforcement,
  PolicyScope,
  Acknowledgements,
  DeclarationSite,
} from './types';
