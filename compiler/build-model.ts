/**
 * Model: turn the evaluated DSL objects into the plain, sorted, versioned model. Structural problems
 * (values not made by the builders, references to undeclared services) are reported here; everything
 * about meaning is left to the validator.
 */
import type { AnyGateway, AnyService, AssertionCaller, IdentitySource, JwtIssuer, MeshPolicy, Namespace, PortProbes, ProxyAdminScraper, Source } from '../dsl';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import {
  DEFAULT_LINKERD_CONTROL_PLANE,
  DEFAULT_PROBE_NETWORKS,
  MODEL_VERSION,
  isHttpProtocol,
  pathMatchOf,
  servicesById,
  type AssertionModel,
  type CallerModel,
  type GatewayModel,
  type IdentitySourceModel,
  type HeaderCondition,
  type JwtIssuerModel,
  type LinkerdSettings,
  type ScraperModel,
  type NamespaceModel,
  type PolicyModel,
  type PortModel,
  type ProbeModel,
  type RuleModel,
  type ServiceModel,
  type SourceLocation,
  type SourceModel,
} from '../model/model';
import type { SourceStore } from './sources';
import { shortHash } from '../model/hash';
import { validCidr } from '../model/cidr';
import { checkDeclaration, describeValue, type DeclarationTypes } from './evaluator/policy-schema';
import type { BuiltRule, DeclarationMemo, Kept, ModelMemo } from './model-memo';

export interface BuildModelResult {
  readonly model?: PolicyModel;
  readonly diagnostics: readonly Diagnostic[];
}

type Locate = (site: unknown) => SourceLocation | undefined;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const BUILDERS: Readonly<Record<'namespaces' | 'services' | 'rules' | 'assertions', string>> = {
  namespaces: 'namespace(...)',
  services: 'service(...)',
  rules: 'allow(...).to(...) or deny(...).to(...)',
  assertions: 'reaches(...) or neverReaches(...)',
};

/** A declaration that passed its schema (or equals one that did, kept by the memo), and where it was written. */
interface Declared<T, R> {
  readonly value: T;
  readonly location: SourceLocation | undefined;
  /** Its position in the mesh's list. */
  readonly index: number;
  /** With a memo: what the last build kept for an equal declaration at the same location. */
  readonly kept?: Kept<R>;
}

/**
 * `exported` is what the evaluator read out of policy code: plain data, untrusted. Every declaration is checked
 * against its schema (compiler/evaluator/policy-schema.ts) before any field of it is read. With `memo` (a watch
 * session), a service or rule equal to one of the last build's, at the same site and location, gets that one's
 * model without being checked or built again (compiler/model-memo.ts).
 */
export function buildModel(exported: unknown, entry: string, store: SourceStore, locate: Locate, memo?: ModelMemo): BuildModelResult {
  memo?.begin();
  const diagnostics: Diagnostic[] = [];
  if (!isObject(exported) || exported['kind'] !== 'mesh') {
    diagnostics.push(
      diagnostic(
        'missing-mesh-export',
        "The entry file must end with `export default mesh({ services: [...], rules: [...] })`, importing `mesh` from 'policyc'.",
        store.spanOf(entry, 0, 0),
      ),
    );
    return { diagnostics };
  }
  const meshLocation = locate(exported['site']);
  const meshSpan = store.spanOfLocation(meshLocation) ?? store.spanOf(entry, 0, 0);
  const invalid = (builder: string, problem: string, span: Diagnostic['span']): void => {
    diagnostics.push(
      diagnostic(
        'invalid-policy-value',
        `In ${builder}, ${problem}. Use a value its type allows: a cast (\`as\`) hides this from the type checker, not from policyc.`,
        span,
      ),
    );
  };
  const checkedMesh = checkDeclaration('mesh', exported);
  if ('problem' in checkedMesh) {
    invalid('mesh({...})', checkedMesh.problem, meshSpan);
    return { diagnostics };
  }
  const policy = checkedMesh.ok;

  /** The entries of one of the mesh's lists that are valid declarations of their kind; the others are reported. */
  const declarations = <K extends 'namespace' | 'service' | 'rule' | 'assertion', R = never>(
    kind: K,
    list: 'namespaces' | 'services' | 'rules' | 'assertions',
    kept?: DeclarationMemo<R>,
  ): Declared<DeclarationTypes[K], R>[] => {
    const valid: Declared<DeclarationTypes[K], R>[] = [];
    (policy[list] as readonly unknown[]).forEach((value, index) => {
      if (!isObject(value) || value['kind'] !== kind) {
        diagnostics.push(diagnostic('not-a-declaration', `Entry ${index} of \`${list}\` was not made by a policyc builder (${BUILDERS[list]}).`, meshSpan));
        return;
      }
      const location = locate(value['site']);
      const found = memo === undefined ? undefined : kept?.find(index, value, location, memo.structures);
      // Equal to a declaration that passed its schema: it passes too.
      if (found !== undefined) {
        valid.push({ value: value as unknown as DeclarationTypes[K], location, index, kept: found });
        return;
      }
      const checked = checkDeclaration(kind, value);
      if ('problem' in checked) {
        // A declaration used in several places (a service in rules) gives one diagnostic, at its own site.
        invalid(checked.builder, checked.problem, store.spanOfLocation(locate(checked.owner['site'])) ?? meshSpan);
        return;
      }
      valid.push({ value: checked.ok, location, index });
    });
    return valid;
  };
  /** Keeps a declaration's model for the next build (not one holding a cycle: no shape can be compared with it). */
  const keep = <R>(kept: DeclarationMemo<R> | undefined, declared: Declared<object, R>, result: R): void => {
    if (memo === undefined || kept === undefined) return;
    const shape = memo.structures.copy(declared.value);
    if (shape !== undefined) kept.keep(declared.index, declared.value, { shape, location: declared.location, result });
  };

  // Namespaces: declared ones plus every service's namespace, merged by name.
  const namespaces = new Map<string, NamespaceModel>();
  const addNamespace = (ns: Namespace): void => {
    const existing = namespaces.get(ns.name);
    const location = locate(ns.site);
    const model: NamespaceModel = {
      name: ns.name,
      ...(ns.mtls === undefined ? {} : { mtls: ns.mtls }),
      ...(ns.defaultAction === undefined ? {} : { defaultAction: ns.defaultAction }),
      ...(ns.enforcement === undefined ? {} : { enforcement: ns.enforcement }),
      ...(location === undefined ? {} : { location }),
    };
    const setting = (['mtls', 'defaultAction', 'enforcement'] as const).find((key) => existing !== undefined && existing[key] !== model[key]);
    if (existing === undefined) {
      namespaces.set(ns.name, model);
    } else if (setting !== undefined) {
      diagnostics.push(
        diagnostic(
          'conflicting-namespace',
          `Namespace '${ns.name}' is declared twice with different ${setting === 'mtls' ? 'mTLS modes' : `${setting} settings`} (${existing[setting] ?? 'inherited'} and ${model[setting] ?? 'inherited'}). Declare it once and import it where needed.`,
          store.spanOfLocation(model.location),
          [{ message: 'The other declaration is here.', ...spanField(store.spanOfLocation(existing.location)) }],
        ),
      );
    }
  };
  for (const { value: ns } of declarations('namespace', 'namespaces')) addNamespace(ns);

  const services: ServiceModel[] = [];
  for (const declared of declarations('service', 'services', memo?.services)) {
    const { value: svc, location } = declared;
    addNamespace(svc.namespace);
    if (declared.kept !== undefined) {
      services.push(declared.kept.result);
      memo?.services.keep(declared.index, svc, declared.kept);
      continue;
    }
    const ports: PortModel[] = Object.entries(svc.ports)
      .map(([name, spec]) => ({
        name,
        port: spec.port,
        protocol: spec.protocol,
        ...(spec.mtls === undefined ? {} : { mtls: spec.mtls }),
        ...(spec.probes === undefined ? {} : { probes: probesOf(spec.probes) }),
        ...(spec.defaultAction === undefined ? {} : { defaultAction: spec.defaultAction }),
        ...(spec.acknowledge === undefined ? {} : { acknowledge: sortedRecord(spec.acknowledge) }),
      }))
      .sort((a, b) => a.port - b.port || compare(a.name, b.name));
    const model: ServiceModel = {
      id: `${svc.namespace.name}/${svc.name}`,
      namespace: svc.namespace.name,
      name: svc.name,
      serviceAccount: svc.serviceAccount,
      selector: Object.fromEntries(Object.entries(svc.selector).sort(([a], [b]) => compare(a, b))),
      ports,
      ...(svc.mtls === undefined ? {} : { mtls: svc.mtls }),
      ...(svc.defaultAction === undefined ? {} : { defaultAction: svc.defaultAction }),
      ...(svc.enforcement === undefined ? {} : { enforcement: svc.enforcement }),
      ...gatewayOf(svc),
      ...(location === undefined ? {} : { location }),
    };
    services.push(model);
    keep(memo?.services, declared, model);
  }
  services.sort((a, b) => compare(a.id, b.id));
  const declared = servicesById({ services });

  // JWT issuers, by issuer: one declaration (or several with the same keys) per issuer.
  const jwtIssuers = new Map<string, JwtIssuerModel>();
  const addIssuer = (declared: JwtIssuer, ruleSpan: Diagnostic['span']): void => {
    const location = locate(declared.site);
    const model: JwtIssuerModel = {
      issuer: declared.issuer,
      ...(declared.jwksUri === undefined ? {} : { jwksUri: declared.jwksUri }),
      ...(declared.jwks === undefined ? {} : { jwks: declared.jwks }),
      ...(location === undefined ? {} : { location }),
    };
    const existing = jwtIssuers.get(declared.issuer);
    if (existing === undefined) jwtIssuers.set(declared.issuer, model);
    else if (existing.jwksUri !== model.jwksUri || existing.jwks !== model.jwks) {
      diagnostics.push(
        diagnostic(
          'conflicting-jwt-issuer',
          `JWT issuer '${declared.issuer}' is declared twice with different keys. Declare it once with jwtIssuer({...}) and import it where needed.`,
          store.spanOfLocation(location) ?? ruleSpan,
          [{ message: 'The other declaration is here.', ...spanField(store.spanOfLocation(existing.location)) }],
        ),
      );
    }
  };

  const rules: BuiltRule[] = [];
  for (const declaredRule of declarations('rule', 'rules', memo?.rules)) {
    const { value: rule, location, kept } = declaredRule;
    // A kept rule holds while the services it read are the same models.
    if (
      kept !== undefined &&
      declared.get(kept.result.model.destination) === kept.result.destination &&
      kept.result.sourceServices.every((id) => declared.has(id))
    ) {
      rules.push(kept.result);
      memo?.rules.keep(declaredRule.index, rule, kept);
      continue;
    }
    const reported = diagnostics.length;
    const sourceServices: string[] = [];
    let namesIssuer = false;
    const span = store.spanOfLocation(location);
    const undeclared = (svc: AnyService, role: string): void => {
      diagnostics.push(
        diagnostic(
          'undeclared-service',
          `The ${role} '${svc.namespace.name}/${svc.name}' is not in the mesh's \`services\` list: add it there, or the rule refers to a service policyc does not manage.`,
          span,
        ),
      );
    };
    const destination = declared.get(`${rule.to.namespace.name}/${rule.to.name}`);
    if (destination === undefined) {
      undeclared(rule.to, 'destination');
      continue;
    }
    const sources: SourceModel[] = [];
    const identitySource = (source: IdentitySource): IdentitySourceModel | undefined => {
      switch (source.kind) {
        case 'service': {
          const id = `${source.namespace.name}/${source.name}`;
          sourceServices.push(id);
          if (declared.has(id)) return { kind: 'service', service: id };
          undeclared(source, 'source');
          return undefined;
        }
        case 'namespace':
          return { kind: 'namespace', namespace: source.name };
        case 'identity':
          return { kind: 'identity', namespace: source.namespace, serviceAccount: source.serviceAccount };
        case 'spiffe':
          return { kind: 'spiffe', id: source.id };
        case 'trustDomain':
          return { kind: 'trustDomain', trustDomain: source.trustDomain };
        case 'authenticated':
          return { kind: 'authenticated' };
        default:
          return source satisfies never;
      }
    };
    for (const source of rule.from as readonly Source[]) {
      switch (source.kind) {
        case 'anyone':
          sources.push({ kind: source.kind });
          break;
        case 'ipBlocks':
          for (const cidr of source.cidrs) sources.push({ kind: 'ipBlock', cidr });
          break;
        case 'remoteIpBlocks':
          for (const cidr of source.cidrs) sources.push({ kind: 'remoteIpBlock', cidr });
          break;
        case 'both': {
          const identity = identitySource(source.identity);
          if (identity !== undefined) sources.push({ kind: 'both', identity, cidrs: [...new Set(source.network.cidrs)].sort(compare) });
          break;
        }
        case 'requestIdentity':
          namesIssuer = true;
          addIssuer(source.issuer, span);
          sources.push({
            kind: 'requestIdentity',
            issuer: source.issuer.issuer,
            ...(source.subject === undefined ? {} : { subject: source.subject }),
            ...(source.claims === undefined ? {} : { claims: Object.fromEntries(Object.entries(source.claims).sort(([a], [b]) => compare(a, b))) }),
          });
          break;
        default: {
          const identity = identitySource(source);
          if (identity !== undefined) sources.push(identity);
        }
      }
    }
    const headers: HeaderCondition[] | undefined =
      rule.headers === undefined || Object.keys(rule.headers).length === 0
        ? undefined
        : Object.entries(rule.headers)
            .map(([name, condition]) => ({
              name,
              match:
                condition.kind === 'headerPresent'
                  ? { kind: 'present' as const }
                  : { kind: condition.kind === 'headerExact' ? ('exact' as const) : ('prefix' as const), value: condition.value },
            }))
            .sort((a, b) => compare(a.name, b.name));
    const hasL7 = rule.methods !== undefined || rule.paths !== undefined || headers !== undefined || sources.some((s) => s.kind === 'requestIdentity');
    // "All ports" is made explicit here; with methods or paths it means all ports that carry HTTP.
    const ports = rule.ports !== undefined ? [...rule.ports] : destination.ports.filter((p) => !hasL7 || isHttpProtocol(p.protocol)).map((p) => p.name);
    const body = {
      action: rule.action,
      sources: uniqueSorted(sources),
      destination: destination.id,
      ports: [...new Set(ports)].sort(compare),
      ...(rule.methods === undefined ? {} : { methods: [...new Set(rule.methods)].sort(compare) }),
      ...(rule.paths === undefined ? {} : { paths: uniqueSorted(rule.paths.map((p) => pathMatchOf(p))) }),
      ...(headers === undefined ? {} : { headers }),
      ...(typeof rule.name === 'string' ? { name: rule.name } : {}),
    };
    const key = JSON.stringify(body);
    // Acknowledgements are not part of the id: accepting a warning does not rename the rule's objects.
    const acknowledge = rule.acknowledge === undefined ? {} : { acknowledge: sortedRecord(rule.acknowledge) };
    const built: BuiltRule = {
      key,
      model: { id: shortHash(key), ...body, ...acknowledge, ...(location === undefined ? {} : { location }) },
      destination,
      sourceServices,
    };
    rules.push(built);
    // Kept only when building it had no effect beyond its model (a JWT issuer joins the model's list).
    if (!namesIssuer && diagnostics.length === reported) keep(memo?.rules, declaredRule, built);
  }
  rules.sort((a, b) => compare(a.model.destination, b.model.destination) || compare(a.model.action, b.model.action) || compare(a.key, b.key));

  const assertions: AssertionModel[] = [];
  for (const { value: assertion } of declarations('assertion', 'assertions')) {
    const location = locate(assertion.site);
    if (assertion.from.kind === 'both' || assertion.from.kind === 'remoteIpBlocks') {
      diagnostics.push(
        diagnostic(
          'invalid-policy-value',
          `An assertion's caller cannot be ${assertion.from.kind === 'both' ? 'both(...)' : 'remoteIpBlocks(...)'}: name the identity or ipBlocks(...) the assertion is about.`,
          store.spanOfLocation(location),
        ),
      );
      continue;
    }
    const from = callerOf(assertion.from);
    const to =
      assertion.to.kind === 'service'
        ? { kind: 'service' as const, service: `${assertion.to.namespace.name}/${assertion.to.name}` }
        : { kind: 'namespace' as const, namespace: assertion.to.name };
    if (from.kind === 'ipBlocks') {
      const wrong = from.cidrs.find((cidr) => !validCidr(cidr));
      if (wrong !== undefined) {
        diagnostics.push(
          diagnostic(
            'invalid-cidr',
            `The assertion's caller ${describeValue(wrong)} is not an IP address or a CIDR block with its host bits zero.`,
            store.spanOfLocation(location),
          ),
        );
        continue;
      }
    }
    if (to.kind === 'service' && !declared.has(to.service)) {
      diagnostics.push(
        diagnostic('undeclared-service', `The assertion's destination '${to.service}' is not in the mesh's \`services\` list.`, store.spanOfLocation(location)),
      );
      continue;
    }
    assertions.push({
      expect: assertion.expect,
      from,
      to,
      ...(assertion.port === undefined ? {} : { port: assertion.port }),
      ...(assertion.method === undefined ? {} : { method: assertion.method }),
      ...(assertion.path === undefined ? {} : { path: assertion.path }),
      ...(location === undefined ? {} : { location }),
    });
  }

  const model: PolicyModel = {
    version: MODEL_VERSION,
    entry: store.relative(entry),
    mesh: {
      trustDomain: policy.trustDomain,
      mtls: policy.mtls,
      defaultAction: policy.defaultAction,
      rootNamespace: policy.rootNamespace,
      // Absent from a policy object built without mesh(): the default.
      ...(policy.probeNetworks === undefined || sameStrings(policy.probeNetworks, DEFAULT_PROBE_NETWORKS) ? {} : { probeNetworks: [...policy.probeNetworks] }),
      // Absent means 'mesh', so models (and their JSON) written before scopes existed keep their meaning.
      ...((policy.scope ?? 'mesh') === 'mesh' ? {} : { scope: policy.scope }),
      ...(policy.everyMeshedNamespaceListed === true ? { everyMeshedNamespaceListed: true as const } : {}),
      ...linkerdSettings(policy.linkerd, declared),
      ...(meshLocation === undefined ? {} : { location: meshLocation }),
    },
    namespaces: [...namespaces.values()].sort((a, b) => compare(a.name, b.name)),
    services,
    rules: withUniqueIds(rules.map((r) => r.model)),
    ...(assertions.length === 0 ? {} : { assertions }),
    ...(jwtIssuers.size === 0 ? {} : { jwtIssuers: [...jwtIssuers.values()].sort((a, b) => compare(a.issuer, b.issuer)) }),
  };
  return { model, diagnostics };
}

/** An assertion's caller in model terms (services by id). Every CIDR of `ipBlocks(a, b, ...)` is kept. */
function callerOf(caller: Exclude<AssertionCaller, { readonly kind: 'both' | 'remoteIpBlocks' }>): CallerModel {
  switch (caller.kind) {
    case 'service':
      return { kind: 'service', service: `${caller.namespace.name}/${caller.name}` };
    case 'namespace':
      return { kind: 'namespace', namespace: caller.name };
    case 'identity':
      return { kind: 'identity', namespace: caller.namespace, serviceAccount: caller.serviceAccount };
    case 'spiffe':
      return { kind: 'spiffe', id: caller.id };
    case 'trustDomain':
      return { kind: 'trustDomain', trustDomain: caller.trustDomain };
    case 'authenticated':
    case 'anyone':
    case 'plaintext':
      return { kind: caller.kind };
    case 'ipBlocks':
      return { kind: 'ipBlocks', cidrs: [...caller.cidrs] };
    case 'outside':
      return { kind: 'outside', namespace: caller.namespace.name };
    default:
      return caller satisfies never;
  }
}

/**
 * The Linkerd-only settings: present only when they differ from the defaults, so a model without them keeps its
 * JSON. A scraper service must be declared (else it is left out: the validator's undeclared-service check is for
 * rules); linkerd-viz's Prometheus is its account `prometheus` in the linkerd-viz namespace.
 */
function linkerdSettings(linkerd: MeshPolicy['linkerd'] | undefined, declared: ReadonlyMap<string, unknown>): { linkerd?: LinkerdSettings } {
  const controlPlaneNamespace = linkerd?.controlPlaneNamespace ?? DEFAULT_LINKERD_CONTROL_PLANE;
  const scrapers = (linkerd?.proxyAdmin?.scrapedBy ?? []).flatMap((s: ProxyAdminScraper): ScraperModel[] => {
    switch (s.kind) {
      case 'service': {
        const id = `${s.namespace.name}/${s.name}`;
        return declared.has(id) ? [{ kind: 'service', service: id }] : [{ kind: 'identity', namespace: s.namespace.name, serviceAccount: s.serviceAccount }];
      }
      case 'identity':
        return [{ kind: 'identity', namespace: s.namespace, serviceAccount: s.serviceAccount }];
      case 'linkerdViz':
        return [{ kind: 'identity', namespace: s.namespace, serviceAccount: 'prometheus' }];
      case 'ipBlocks':
        return s.cidrs.map((cidr) => ({ kind: 'ipBlock' as const, cidr }));
      default:
        return s satisfies never;
    }
  });
  const settings: LinkerdSettings = {
    ...(controlPlaneNamespace === DEFAULT_LINKERD_CONTROL_PLANE ? {} : { controlPlaneNamespace }),
    ...(linkerd?.proxyAdmin === undefined ? {} : { proxyAdmin: { scrapedBy: uniqueSorted(scrapers) } }),
  };
  return Object.keys(settings).length === 0 ? {} : { linkerd: settings };
}

/** The gateway part of a declaration `gateway(...)` made (the schema checked its shape). */
function gatewayOf(svc: AnyService): { gateway?: GatewayModel } {
  const gateway = (svc as Partial<AnyGateway>).gateway;
  return gateway === undefined ? {} : { gateway: { kind: gateway.kind, numTrustedProxies: gateway.numTrustedProxies } };
}

/** Identical rules hash alike; the later ones get a counter so ids stay unique (the validator warns about them). */
function withUniqueIds(rules: readonly RuleModel[]): RuleModel[] {
  const seen = new Map<string, number>();
  return rules.map((rule) => {
    const count = (seen.get(rule.id) ?? 0) + 1;
    seen.set(rule.id, count);
    return count === 1 ? rule : { ...rule, id: `${rule.id}-${count}` };
  });
}

/** A user's record of strings (acknowledgements) with its keys sorted, so the model does not depend on their order. */
function sortedRecord(record: Readonly<Partial<Record<string, string>>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record)
      .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
      .sort(([a], [b]) => compare(a, b)),
  );
}

function spanField(span: Diagnostic['span']): { span?: NonNullable<Diagnostic['span']> } {
  return span === undefined ? {} : { span };
}

/** De-duplicated and sorted by canonical JSON, so the model does not depend on declaration order. */
function uniqueSorted<T>(values: readonly T[]): T[] {
  const byKey = new Map(values.map((v) => [JSON.stringify(v), v]));
  return [...byKey.keys()].sort(compare).map((k) => byKey.get(k) as T);
}

/** A port's probes in the model's order (readiness, liveness, startup). */
function probesOf(probes: PortProbes): ProbeModel[] {
  return (['readiness', 'liveness', 'startup'] as const).flatMap((probe): ProbeModel[] => {
    const spec = probes[probe];
    if (spec === undefined) return [];
    return spec.path !== undefined ? [{ kind: 'http', probe, path: spec.path }] : [{ kind: 'tcp', probe }];
  });
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
