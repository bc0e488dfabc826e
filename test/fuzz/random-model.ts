/**
 * Random policy models for property tests: namespaces, services, ports and protocols, mTLS modes at every
 * level, allow and deny rules of every source kind, L7 rules, header conditions and request identities (JWT),
 * both default postures at every level (mesh, namespace, service, port), audited namespaces and services, both
 * scopes. Models the validator
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
  type MtlsMode,
  type PolicyModel,
  type PortModel,
  type Protocol,
  type RuleModel,
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
        fc.record({ protocol: fc.constantFrom(...PROTOCOLS), mtls: optionalMode, defaultAction: optionalDefaultAction }).map((p) => ({ i, ...p })),
      ),
    ),
  )
  .map((ports): PortModel[] =>
    ports
      .map(({ i, protocol, mtls, defaultAction }) => ({
        name: PORT_NAMES[i] as string,
        port: PORT_NUMBERS[i] as number,
        protocol,
        ...(mtls === undefined ? {} : { mtls }),
        ...(defaultAction === undefined ? {} : { defaultAction }),
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

const draftArbitrary: fc.Arbitrary<Draft> = fc
  .record({
    trustDomain: fc.constantFrom('cluster.local', 'corp.example'),
    mtls: modeArbitrary,
    defaultAction: fc.constantFrom('deny', 'deny', 'allow'),
    namespaceModes: fc.tuple(optionalMode, optionalMode, optionalMode),
    namespaceDefaults: fc.tuple(optionalDefaultAction, optionalDefaultAction, optionalDefaultAction),
    namespaceEnforcements: fc.tuple(optionalEnforcement, optionalEnforcement, optionalEnforcement),
    namespaceScope: fc.boolean(),
    serviceCount: fc.integer({ min: 1, max: 4 }),
  })
  .chain(({ trustDomain, mtls, defaultAction, namespaceModes, namespaceDefaults, namespaceEnforcements, namespaceScope, serviceCount }) =>
    fc.tuple(...Array.from({ length: serviceCount }, (_, i) => serviceArbitrary(i))).map((services): Draft => ({
      mesh: {
        trustDomain,
        mtls,
        defaultAction: defaultAction as 'deny' | 'allow',
        rootNamespace: 'istio-system',
        // Mesh scope states that the model lists every meshed namespace, so Linkerd compiles it too.
        ...(namespaceScope ? { scope: 'namespaces' as const } : { everyMeshedNamespaceListed: true as const }),
      },
      namespaces: NAMESPACES.filter((ns) => services.some((s) => s.namespace === ns)).map((name) => {
        const at = NAMESPACES.indexOf(name);
        const mode = namespaceModes[at];
        const namespaceDefault = namespaceDefaults[at];
        const enforcement = namespaceEnforcements[at];
        return {
          name,
          ...(mode === undefined ? {} : { mtls: mode }),
          ...(namespaceDefault === undefined ? {} : { defaultAction: namespaceDefault }),
          ...(enforcement === undefined ? {} : { enforcement }),
        };
      }),
      services,
    })),
  );

function sourceArbitrary(draft: Draft): fc.Arbitrary<SourceModel> {
  return fc.oneof(
    fc.constantFrom(...draft.services).map((s): SourceModel => ({ kind: 'service', service: s.id })),
    fc.constantFrom(...NAMESPACES, 'outside').map((namespace): SourceModel => ({ kind: 'namespace', namespace })),
    fc.constantFrom<SourceModel>({ kind: 'identity', namespace: 'outside', serviceAccount: 'bot' }, { kind: 'authenticated' }, { kind: 'anyone' }),
    fc.constantFrom(...CIDRS).map((cidr): SourceModel => ({ kind: 'ipBlock', cidr })),
  );
}

function ruleArbitrary(draft: Draft): fc.Arbitrary<Omit<RuleModel, 'id'>> {
  return fc.constantFrom(...draft.services).chain((destination) =>
    fc
      .record({
        action: fc.constantFrom<'allow' | 'deny'>('allow', 'allow', 'deny'),
        sources: fc.uniqueArray(sourceArbitrary(draft), { minLength: 1, maxLength: 3, selector: (s) => JSON.stringify(s) }),
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

/** Models a user could write: every one passes the validator without errors. */
export const policyModelArbitrary: fc.Arbitrary<PolicyModel> = draftArbitrary
  .chain((draft) =>
    fc.array(ruleArbitrary(draft), { maxLength: 6 }).map((rules): PolicyModel => {
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
  .filter((model) => validateModel(model, NO_STORE).every((d) => d.severity !== 'error'));

/**
 * The models `policyc import` can read back from their own Istio output with the same object names: mesh scope, one
 * mesh-wide defaultAction, no audit, no header conditions or request identities. The importer infers one mesh-wide
 * posture (so a service's own `allow-nothing` comes back as its namespace's), drops dry-run policies (they never
 * change a decision), always writes a mesh-scope policy (a root-namespace PeerAuthentication), which a
 * namespace-scope build lacks, and reads neither RequestAuthentication nor `when` conditions.
 */
export const importableModelArbitrary: fc.Arbitrary<PolicyModel> = policyModelArbitrary.filter(
  (model) =>
    (model.mesh.scope ?? 'mesh') === 'mesh' &&
    model.namespaces.every((ns) => ns.enforcement === undefined && ns.defaultAction === undefined) &&
    model.services.every((s) => s.enforcement === undefined && s.defaultAction === undefined && s.ports.every((p) => p.defaultAction === undefined)) &&
    model.rules.every((r) => r.headers === undefined && r.sources.every((s) => s.kind !== 'requestIdentity')),
);
