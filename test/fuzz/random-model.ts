/**
 * Random policy models for property tests: namespaces, services, ports and protocols, mTLS modes at every
 * level, allow and deny rules of every source kind (SPIFFE IDs, trust domains, identity AND network, remote
 * client addresses at gateways included), L7 rules, header conditions and request identities (JWT), both default
 * postures at every level (mesh, namespace, service, port), audited namespaces and services, both scopes, and
 * sometimes a gateway (an Istio ingress gateway in the root namespace or a Gateway API gateway in an app
 * namespace) with trusted proxies. Models the validator
 * rejects are filtered out, so every generated model is one a user could have written.
 */
import fc from 'fast-check';
import { shortHash } from '../../model/hash';
import {
  MODEL_VERSION,
  isHttpProtocol,
  pathMatchOf,
  type HeaderCondition,
  type DefaultAction,
  type Enforcement,
  type HttpMethod,
  type LinkerdSettings,
  type MtlsMode,
  type PolicyModel,
  type PortModel,
  type Protocol,
  type RuleModel,
  type IdentitySourceModel,
  type ServiceModel,
  type SourceModel,
} from '../../model/model';
import { SourceStore } from '../../compiler/sources';
import { validateModel } from '../../compiler/check-model';

const PROTOCOLS: readonly Protocol[] = ['http', 'http2', 'grpc', 'tcp'];
const NAMESPACES = ['alpha', 'beta', 'gamma'] as const;
const PORT_NUMBERS = [80, 8080, 9090, 5432] as const;
const PORT_NAMES = ['web', 'api', 'rpc', 'db'] as const;
const CIDRS = ['10.0.0.0/8', '10.1.0.0/16', '192.168.1.0/24', '2001:db8::/32'] as const;
const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'DELETE'];
const HTTP_PATHS = ['/api/*', '/api/admin', '/health', '/api/admin/*', '/'] as const;
const GRPC_PATHS = ['/pkg.Svc/*', '/pkg.Svc/Get', '/other.Svc/Put'] as const;
/** Probe paths: one a rule may name too, one no rule names. */
const PROBE_PATHS = ['/health', '/healthz'] as const;
/** The probe networks: the default (everywhere), or a node network some rule CIDRs overlap. */
const PROBE_NETWORKS = [undefined, ['10.1.0.0/16'], ['172.16.0.0/12', 'fd00::/8']] as const;
/** Linkerd-only settings (model.ts, 9.): the defaults, another control plane, the admin port opened to scrapers. */
const LINKERD_SETTINGS: readonly (LinkerdSettings | undefined)[] = [
  undefined,
  undefined,
  { controlPlaneNamespace: 'linkerd-cp' },
  { proxyAdmin: { scrapedBy: [{ kind: 'identity', namespace: 'linkerd-viz', serviceAccount: 'prometheus' }] } },
  {
    controlPlaneNamespace: 'l5d',
    proxyAdmin: {
      scrapedBy: [
        { kind: 'identity', namespace: 'alpha', serviceAccount: 'prometheus' },
        { kind: 'ipBlock', cidr: '10.1.0.0/16' },
      ],
    },
  },
];
const ISSUERS = ['https://idp.example', 'https://other.example/realm'] as const;

const headerConditionArbitrary: fc.Arbitrary<HeaderCondition> = fc.record({
  name: fc.constantFrom('x-env', 'x-token', 'x-debug'),
  match: fc.oneof(
    fc.constantFrom('prod', 'prod-1', 'admin').map((value) => ({ kind: 'exact' as const, value })),
    fc.constantFrom('prod', 'prod-', 'a').map((value) => ({ kind: 'prefix' as const, value })),
    fc.constant({ kind: 'present' as const }),
  ),
});
/** The value one time in four, else undefined. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary, weight: 1 });
const headersArbitrary = fc.uniqueArray(headerConditionArbitrary, { minLength: 1, maxLength: 2, selector: (h) => h.name });

const requestIdentityArbitrary: fc.Arbitrary<SourceModel> = fc
  .record({
    issuer: fc.constantFrom(...ISSUERS),
    subject: fc.option(fc.constantFrom('alice', 'bob'), { nil: undefined }),
    claims: fc.option(fc.constantFrom<Record<string, string>>({ role: 'admin' }, { role: 'viewer' }, { role: 'admin', team: 'x' }), { nil: undefined }),
  })
  .map(({ issuer, subject, claims }) => ({
    kind: 'requestIdentity' as const,
    issuer,
    ...(subject === undefined ? {} : { subject }),
    ...(claims === undefined ? {} : { claims }),
  }));

// DISABLE is rarer: Linkerd refuses it, and models it refuses verify nothing for that target.
const modeArbitrary = fc.constantFrom<MtlsMode>('STRICT', 'STRICT', 'STRICT', 'PERMISSIVE', 'PERMISSIVE', 'DISABLE');
const optionalMode = fc.option(modeArbitrary, { nil: undefined, freq: 3 });
// Mostly inherited, so that most models keep one posture and the overrides stay the exception they are.
const optionalDefaultAction = fc.constantFrom<DefaultAction | undefined>(undefined, undefined, undefined, undefined, 'allow', 'deny');
const optionalEnforcement = fc.constantFrom<Enforcement | undefined>(undefined, undefined, undefined, undefined, undefined, undefined, 'audit', 'enforce');

interface Draft {
  readonly mesh: PolicyModel['mesh'];
  readonly namespaces: PolicyModel['namespaces'];
  readonly services: ServiceModel[];
}

const portsArbitrary = fc
  .uniqueArray(fc.integer({ min: 0, max: PORT_NUMBERS.length - 1 }), { minLength: 1, maxLength: 3 })
  .chain((indexes) =>
    fc.tuple(
      ...indexes.map((i) =>
        fc
          .record({
            protocol: fc.constantFrom(...PROTOCOLS),
            mtls: optionalMode,
            defaultAction: optionalDefaultAction,
            probe: fc.option(fc.constantFrom(...PROBE_PATHS), { nil: undefined, freq: 2 }),
          })
          .map((p) => ({ i, ...p })),
      ),
    ),
  )
  .map((ports): PortModel[] =>
    ports
      .map(({ i, protocol, mtls, defaultAction, probe }) => ({
        name: PORT_NAMES[i] as string,
        port: PORT_NUMBERS[i] as number,
        protocol,
        ...(mtls === undefined ? {} : { mtls }),
        ...(defaultAction === undefined ? {} : { defaultAction }),
        // Kubelet probes (model.ts, 6.): an HTTP probe on HTTP ports, a TCP probe on TCP ports (gRPC ports get none).
        ...(probe === undefined || protocol === 'grpc'
          ? {}
          : {
              probes: [
                protocol === 'tcp' ? { kind: 'tcp' as const, probe: 'liveness' as const } : { kind: 'http' as const, probe: 'readiness' as const, path: probe },
              ],
            }),
      }))
      .sort((a, b) => a.port - b.port),
  );

const serviceArbitrary = (index: number) =>
  fc
    .record({
      namespace: fc.constantFrom(...NAMESPACES),
      sharedAccount: fc.boolean(),
      ports: portsArbitrary,
      mtls: optionalMode,
      defaultAction: optionalDefaultAction,
      enforcement: optionalEnforcement,
    })
    .map(({ namespace, sharedAccount, ports, mtls, defaultAction, enforcement }): ServiceModel => {
      const name = `svc${index}`;
      return {
        id: `${namespace}/${name}`,
        namespace,
        name,
        serviceAccount: sharedAccount ? 'shared' : name,
        selector: { app: name },
        ports,
        ...(mtls === undefined ? {} : { mtls }),
        ...(defaultAction === undefined ? {} : { defaultAction }),
        ...(enforcement === undefined ? {} : { enforcement }),
      };
    });

/** A gateway, one time in four: its ports carry HTTP (remoteIpBlocks reads X-Forwarded-For). */
const gatewayArbitrary = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  {
    weight: 1,
    arbitrary: fc
      .record({
        kind: fc.constantFrom<'istio-ingress' | 'gateway-api'>('istio-ingress', 'gateway-api'),
        numTrustedProxies: fc.integer({ min: 0, max: 2 }),
        // Istio's default account for a Gateway API gateway, or one written for another implementation (Linkerd compiles only that one as a caller, PC4140).
        account: fc.constantFrom('edge-istio', 'edge'),
      })
      .map(({ kind, numTrustedProxies, account }): ServiceModel => {
        const istio = kind === 'istio-ingress';
        const namespace = istio ? 'istio-system' : 'alpha';
        const name = istio ? 'istio-ingressgateway' : 'edge';
        return {
          id: `${namespace}/${name}`,
          namespace,
          name,
          serviceAccount: istio ? 'istio-ingressgateway-service-account' : account,
          selector: istio ? { istio: 'ingressgateway' } : { 'gateway.networking.k8s.io/gateway-name': name },
          ports: [{ name: 'web', port: 8080, protocol: 'http' }],
          gateway: { kind, numTrustedProxies },
        };
      }),
  },
);

const draftArbitrary = (withGateways: boolean): fc.Arbitrary<Draft> =>
  fc
    .record({
      trustDomain: fc.constantFrom('cluster.local', 'corp.example'),
      mtls: modeArbitrary,
      defaultAction: fc.constantFrom('deny', 'deny', 'allow'),
      namespaceModes: fc.tuple(optionalMode, optionalMode, optionalMode),
      namespaceDefaults: fc.tuple(optionalDefaultAction, optionalDefaultAction, optionalDefaultAction),
      namespaceEnforcements: fc.tuple(optionalEnforcement, optionalEnforcement, optionalEnforcement),
      namespaceScope: fc.boolean(),
      serviceCount: fc.integer({ min: 1, max: 4 }),
      gateway: withGateways ? gatewayArbitrary : fc.constant(undefined),
      probeNetworks: fc.constantFrom(...PROBE_NETWORKS),
    })
    .chain(
      ({ trustDomain, mtls, defaultAction, namespaceModes, namespaceDefaults, namespaceEnforcements, namespaceScope, serviceCount, gateway, probeNetworks }) =>
        fc.tuple(...Array.from({ length: serviceCount }, (_, i) => serviceArbitrary(i))).map((drafted): Draft => {
          const services = gateway === undefined ? drafted : [...drafted, gateway].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          const names = [...new Set(services.map((s) => s.namespace))].sort();
          return {
            mesh: {
              trustDomain,
              mtls,
              defaultAction: defaultAction as 'deny' | 'allow',
              rootNamespace: 'istio-system',
              // Mesh scope states that the model lists every meshed namespace, so Linkerd compiles it too.
              ...(namespaceScope ? { scope: 'namespaces' as const } : { everyMeshedNamespaceListed: true as const }),
              ...(probeNetworks === undefined ? {} : { probeNetworks }),
            },
            namespaces: names.map((name) => {
              const at = (NAMESPACES as readonly string[]).indexOf(name);
              const mode = at === -1 ? undefined : namespaceModes[at];
              const namespaceDefault = at === -1 ? undefined : namespaceDefaults[at];
              const enforcement = at === -1 ? undefined : namespaceEnforcements[at];
              return {
                name,
                ...(mode === undefined ? {} : { mtls: mode }),
                ...(namespaceDefault === undefined ? {} : { defaultAction: namespaceDefault }),
                ...(enforcement === undefined ? {} : { enforcement }),
              };
            }),
            services,
          };
        }),
    );

/** Another trust domain (never the literal cluster.local, which Istio aliases to the mesh's own). */
const FOREIGN_TRUST_DOMAIN = 'old.example';

/** `all`: the sources of issue 15 too (SPIFFE IDs, trust domains, both, remoteIpBlocks); otherwise the classic ones. */
function identitySourceArbitrary(draft: Draft, all: boolean): fc.Arbitrary<IdentitySourceModel> {
  const td = draft.mesh.trustDomain;
  const classic = [
    fc.constantFrom(...draft.services).map((s): IdentitySourceModel => ({ kind: 'service', service: s.id })),
    fc.constantFrom(...NAMESPACES, 'outside').map((namespace): IdentitySourceModel => ({ kind: 'namespace', namespace })),
    fc.constantFrom<IdentitySourceModel>({ kind: 'identity', namespace: 'outside', serviceAccount: 'bot' }, { kind: 'authenticated' }),
  ];
  if (!all) return fc.oneof(...classic);
  return fc.oneof(
    ...classic,
    fc.constantFrom<IdentitySourceModel>(
      { kind: 'spiffe', id: `spiffe://${td}/ns/alpha/sa/svc0` },
      { kind: 'spiffe', id: `spiffe://${FOREIGN_TRUST_DOMAIN}/ns/alpha/sa/svc0` },
      { kind: 'spiffe', id: `spiffe://${td}/vm/billing` },
      { kind: 'trustDomain', trustDomain: FOREIGN_TRUST_DOMAIN },
      { kind: 'trustDomain', trustDomain: td },
    ),
  );
}

function sourceArbitrary(draft: Draft, destination: ServiceModel, all: boolean): fc.Arbitrary<SourceModel> {
  const classic = [
    identitySourceArbitrary(draft, all),
    fc.constantFrom<SourceModel>({ kind: 'anyone' }),
    fc.constantFrom(...CIDRS).map((cidr): SourceModel => ({ kind: 'ipBlock', cidr })),
  ];
  if (!all) return fc.oneof(...classic);
  return fc.oneof(
    ...classic,
    fc
      .record({ identity: identitySourceArbitrary(draft, all), cidrs: fc.subarray([...CIDRS], { minLength: 1, maxLength: 2 }) })
      .map(({ identity, cidrs }): SourceModel => ({ kind: 'both', identity, cidrs: [...cidrs].sort() })),
    ...(destination.gateway === undefined ? [] : [fc.constantFrom(...CIDRS).map((cidr): SourceModel => ({ kind: 'remoteIpBlock', cidr }))]),
  );
}

function ruleArbitrary(draft: Draft, all: boolean): fc.Arbitrary<Omit<RuleModel, 'id'>> {
  return fc.constantFrom(...draft.services).chain((destination) =>
    fc
      .record({
        action: fc.constantFrom<'allow' | 'deny'>('allow', 'allow', 'deny'),
        sources: fc.uniqueArray(sourceArbitrary(draft, destination, all), { minLength: 1, maxLength: 3, selector: (s) => JSON.stringify(s) }),
        ports: fc.subarray(
          destination.ports.map((p) => p.name),
          { minLength: 1 },
        ),
        l7: fc.boolean(),
        methods: fc.option(fc.subarray([...METHODS], { minLength: 1 }), { nil: undefined }),
        paths: fc.option(fc.subarray([...HTTP_PATHS], { minLength: 1 }), { nil: undefined }),
        grpcPaths: fc.option(fc.subarray([...GRPC_PATHS], { minLength: 1 }), { nil: undefined }),
        // About one rule in four reads headers, one in four names an end user.
        headers: rarely(headersArbitrary),
        users: rarely(fc.uniqueArray(requestIdentityArbitrary, { minLength: 1, maxLength: 2, selector: (s) => JSON.stringify(s) })),
      })
      .map(({ action, sources, ports, l7, methods, paths, grpcPaths, headers, users }) => {
        const chosen = destination.ports.filter((p) => ports.includes(p.name));
        const allHttp = chosen.every((p) => isHttpProtocol(p.protocol));
        const allGrpc = chosen.every((p) => p.protocol === 'grpc');
        const useL7 = l7 && allHttp;
        const pathList = allGrpc ? grpcPaths : paths;
        // Header conditions and request identities only on HTTP ports (the validator refuses them on TCP).
        const allSources = allHttp && users !== undefined ? [...sources, ...users] : sources;
        return {
          action,
          sources: [...allSources].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b), 'en')),
          destination: destination.id,
          ports: [...ports].sort(),
          ...(useL7 && methods !== undefined ? { methods: allGrpc ? (['POST'] as HttpMethod[]) : [...methods].sort() } : {}),
          ...(useL7 && pathList !== undefined ? { paths: pathList.map(pathMatchOf) } : {}),
          ...(allHttp && headers !== undefined ? { headers: [...headers].sort((a, b) => (a.name < b.name ? -1 : 1)) } : {}),
        };
      }),
  );
}

const NO_STORE = new SourceStore('/');

function modelArbitrary(all: boolean): fc.Arbitrary<PolicyModel> {
  return draftArbitrary(all)
    .chain((draft) =>
      fc.array(ruleArbitrary(draft, all), { maxLength: 6 }).map((rules): PolicyModel => {
        const withIds = rules.map((r, i) => ({ ...r, id: `${shortHash(JSON.stringify(r))}-${i}` }));
        const issuers = [...new Set(withIds.flatMap((r) => r.sources.flatMap((s) => (s.kind === 'requestIdentity' ? [s.issuer] : []))))].sort();
        return {
          version: MODEL_VERSION,
          entry: 'random.ts',
          mesh: draft.mesh,
          namespaces: draft.namespaces,
          services: draft.services,
          rules: withIds,
          ...(issuers.length === 0 ? {} : { jwtIssuers: issuers.map((issuer) => ({ issuer, jwksUri: `${issuer}/jwks.json` })) }),
        };
      }),
    )
    .map(withLinkerdSettings)
    .filter((model) => validateModel(model, NO_STORE).every((d) => d.severity !== 'error'));
}

/**
 * The Linkerd settings of a model, chosen by a hash of the rest of it rather than drawn: the random stream stays
 * what it was before they existed, so the same seeds still give the same models.
 */
function withLinkerdSettings(model: PolicyModel): PolicyModel {
  const linkerd = LINKERD_SETTINGS[parseInt(shortHash(JSON.stringify(model)), 16) % LINKERD_SETTINGS.length];
  return linkerd === undefined ? model : { ...model, mesh: { ...model.mesh, linkerd } };
}

/** PERMISSIVE for DISABLE, at every level: Linkerd refuses DISABLE (PC4101). */
function withoutDisable<T extends { readonly mtls?: MtlsMode }>(scope: T): T {
  return scope.mtls === 'DISABLE' ? { ...scope, mtls: 'PERMISSIVE' } : scope;
}

/**
 * A model without what Linkerd refuses by design: DISABLE (PC4101) becomes PERMISSIVE, request identities (PC4111)
 * and audit (PC4134 on STRICT scopes) are left out, and a deny keeps only its exact header conditions (PC4112). Gateways, SPIFFE IDs and the other sources of issue 15 are
 * already absent (`modelArbitrary(false)`). So Linkerd's route construction, header conditions included, is
 * verified on as many models as the other targets'.
 */
function linkerdShaped(model: PolicyModel): PolicyModel {
  const { jwtIssuers: _issuers, ...rest } = model;
  const { enforcement: _meshEnforcement, ...mesh } = withoutDisable(model.mesh) as PolicyModel['mesh'] & { enforcement?: unknown };
  return {
    ...rest,
    mesh,
    namespaces: model.namespaces.map((ns) => {
      const { enforcement: _enforcement, ...kept } = withoutDisable(ns);
      return kept;
    }),
    services: model.services.map((service) => {
      const { enforcement: _enforcement, ...kept } = withoutDisable(service);
      return { ...kept, ports: service.ports.map(withoutDisable) };
    }),
    rules: model.rules
      .map((r) => {
        // A deny's prefix or presence condition is refused (PC4112): its exact conditions are kept.
        const { headers, ...kept } = r;
        const exact = r.action === 'deny' ? (headers ?? []).filter((h) => h.match.kind === 'exact') : (headers ?? []);
        return { ...kept, ...(exact.length === 0 ? {} : { headers: exact }), sources: r.sources.filter((s) => s.kind !== 'requestIdentity') };
      })
      .filter((r) => r.sources.length > 0),
  };
}

/**
 * Models a user could write: every one passes the validator without errors. One in three is shaped for Linkerd
 * (`linkerdShaped`), which refuses the rest of the models far more often than the other targets do.
 */
export const policyModelArbitrary: fc.Arbitrary<PolicyModel> = fc.oneof(
  { arbitrary: modelArbitrary(true), weight: 2 },
  {
    arbitrary: modelArbitrary(false)
      .map(linkerdShaped)
      .filter((model) => validateModel(model, NO_STORE).every((d) => d.severity !== 'error')),
    weight: 1,
  },
);

/**
 * The models `policyc import` can read back from their own Istio output with the same object names: no gateways,
 * SPIFFE IDs, trust domains, both(...) or remoteIpBlocks, no header conditions or request identities (the importer
 * reads none of them back yet); mesh scope, one mesh-wide defaultAction, no audit. The importer infers one mesh-wide
 * posture (so a service's own `allow-nothing` comes back as its namespace's), drops dry-run policies (they never
 * change a decision), and always writes a mesh-scope policy (a root-namespace PeerAuthentication), which a
 * namespace-scope build lacks.
 */
export const importablePolicyModelArbitrary: fc.Arbitrary<PolicyModel> = modelArbitrary(false).filter(
  (model) =>
    (model.mesh.scope ?? 'mesh') === 'mesh' &&
    model.namespaces.every((ns) => ns.enforcement === undefined && ns.defaultAction === undefined) &&
    model.services.every((s) => s.enforcement === undefined && s.defaultAction === undefined && s.ports.every((p) => p.defaultAction === undefined)) &&
    model.rules.every((r) => r.headers === undefined && r.sources.every((s) => s.kind !== 'requestIdentity')),
);
