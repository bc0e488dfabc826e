/**
 * Validate: every problem of the model at once — names, ports, dangling and impossible rules,
 * fail-open shapes, shadowed rules. Reports, never throws, never stops at the first.
 */
import { canonicalCidr, containsCidr, parseCidr, validCidr } from '../model/cidr';
import { diagnostic, type Diagnostic, type RelatedInformation, type Span } from '../diagnostics/diagnostic';
import {
  acceptsPlaintext,
  effectiveDefaultAction,
  effectiveMtls,
  hasPeerIdentity,
  headerMatchText,
  isHttpProtocol,
  namespaceDefaultAction,
  namespaceMtls,
  pathText,
  servicesById,
  type HeaderCondition,
  type AcknowledgementsModel,
  type PathMatch,
  LINKERD_PROXY_ADMIN_PORT,
  proxyAdminGoverns,
  type PolicyModel,
  type RuleModel,
  type ServiceModel,
  type SourceModel,
} from '../model/model';
import { compareStrings } from '../model/compare';
import {
  GRPC_METHOD,
  grpcAdmitsMethods,
  narrowsRequests,
  parseSpiffeId,
  portNamed,
  rulesByDestination,
  sameIdentity,
  sourceIdentity,
  type WorkloadIdentity,
} from '../model/resolve';
import type { SourceStore } from './sources';
import { catalogEntryOfCode } from '../diagnostics/catalog';
import type { ValidationMemo } from './model-memo';

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const isDnsLabel = (name: string): boolean => DNS_1123_LABEL.test(name) && name.length <= 63;
/** What Kubernetes requires of namespace and object names, said once for every name the model carries. */
const notADnsLabel = (what: string, name: string, at: Span | undefined): Diagnostic =>
  diagnostic(
    'invalid-name',
    `${what} '${name}' is not a DNS-1123 label: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit.`,
    at,
  );
const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
// IANA service name, as Kubernetes requires for port names.
const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
// RFC 3986 path characters that both meshes match literally after normalisation.
const PATH_CHARS = /^\/[A-Za-z0-9\-._~!$&'()+,;=:@/%]*$/;
// RFC 9110 §5.1 token characters, lower-case letters only.
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
// A field value as both meshes compare it: visible ASCII and inner spaces (HTTP strips outer whitespace).
const HEADER_VALUE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;
const CLAIM_NAME = /^[A-Za-z0-9_-]+$/;

/**
 * With `memo` (a watch session), the checks of a service, of a namespace's selectors, of a rule and of the rules to
 * one destination are not made again while the model objects they read are the same (compiler/model-memo.ts); the
 * checks of the mesh, its namespaces, issuers and object names, and the acknowledgements, always run.
 */
export function validateModel(model: PolicyModel, store: SourceStore, memo?: ValidationMemo): Diagnostic[] {
  const out: Diagnostic[] = [...checkAcknowledgements(model, store)];
  const span = (location: RuleModel['location']) => store.spanOfLocation(location);
  const related = (message: string, location: RuleModel['location']): RelatedInformation => {
    const s = span(location);
    return s === undefined ? { message } : { message, span: s };
  };

  if (!validTrustDomain(model.mesh.trustDomain)) {
    out.push(
      diagnostic(
        'invalid-trust-domain',
        `Trust domain '${model.mesh.trustDomain}' is not a DNS name (lower-case letters, digits, '-' and '.').`,
        span(model.mesh.location),
      ),
    );
  }
  if (!isDnsLabel(model.mesh.rootNamespace)) out.push(notADnsLabel('Root namespace', model.mesh.rootNamespace, span(model.mesh.location)));
  for (const ns of model.namespaces) {
    if (!isDnsLabel(ns.name)) out.push(notADnsLabel('Namespace name', ns.name, span(ns.location)));
  }

  const seen = new Map<string, ServiceModel>();
  for (const svc of model.services) {
    const at = span(svc.location);
    const first = seen.get(svc.id);
    if (first !== undefined) {
      // The same declaration listed twice in `services` is a different mistake from two declarations of one name.
      const sameDeclaration =
        first.location !== undefined && svc.location !== undefined && first.location.file === svc.location.file && first.location.start === svc.location.start;
      out.push(
        sameDeclaration
          ? diagnostic('duplicate-service', `Service '${svc.id}' is listed twice in the mesh's \`services\`. Remove one of the two entries.`, at)
          : diagnostic('duplicate-service', `Service '${svc.id}' is declared twice. Keep one declaration and import it where needed.`, at, [
              related('The first declaration is here.', first.location),
            ]),
      );
      continue;
    }
    seen.set(svc.id, svc);
    const kept = memo?.services.get(svc);
    if (kept !== undefined && kept.rootNamespace === model.mesh.rootNamespace) {
      out.push(...kept.diagnostics);
      continue;
    }
    const own = serviceProblems(model, svc, at);
    memo?.services.set(svc, { rootNamespace: model.mesh.rootNamespace, diagnostics: own });
    out.push(...own);
  }
  for (const cidr of model.mesh.probeNetworks ?? []) {
    if (!validCidr(cidr))
      out.push(
        diagnostic(
          'invalid-cidr',
          `probeNetworks entry '${cidr}' is not an IP address or a CIDR block with its host bits zero${suggestCidr(cidr)}`,
          span(model.mesh.location),
        ),
      );
  }
  out.push(...checkLinkerdSettings(model, span));
  // Selectors that can select the same pod: no key on which they disagree.
  const byNamespace = new Map<string, ServiceModel[]>();
  for (const svc of seen.values()) byNamespace.set(svc.namespace, [...(byNamespace.get(svc.namespace) ?? []), svc]);
  for (const [namespace, group] of byNamespace) {
    const kept = memo?.overlaps.get(namespace);
    if (kept !== undefined && sameItems(kept.services, group)) {
      out.push(...kept.diagnostics);
      continue;
    }
    const own = overlappingSelectors(group, span, related);
    memo?.overlaps.set(namespace, { services: group, diagnostics: own });
    out.push(...own);
  }

  for (const issuer of model.jwtIssuers ?? []) {
    const problem = jwtIssuerProblem(issuer);
    if (problem !== undefined) out.push(diagnostic('invalid-jwt-issuer', `JWT issuer '${issuer.issuer}': ${problem}`, span(issuer.location)));
  }

  const services = servicesById(model);

  // A kept object name (from \`policyc import\`) names one destination's policy: two destinations of a namespace
  // cannot share it, and it must be a name Kubernetes accepts for the object: a DNS-1123 subdomain, as the
  // Istio target's kept names are (real policies use dotted names such as \`service-httpbin.default.svc.cluster.local\`).
  const ruleNames = new Map<string, RuleModel>();
  for (const rule of model.rules) {
    if (rule.name === undefined) continue;
    const at = span(rule.location);
    if (!DNS_1123_SUBDOMAIN.test(rule.name) || rule.name.length > 253) {
      out.push(
        diagnostic(
          'invalid-name',
          `Object name '${rule.name}' is not a valid Kubernetes object name: use at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit.`,
          at,
        ),
      );
      continue;
    }
    const key = `${rule.destination.split('/')[0] ?? ''}/${rule.name}`;
    const other = ruleNames.get(key);
    if (other !== undefined && other.destination !== rule.destination) {
      out.push(
        diagnostic(
          'invalid-name',
          `Object name '${rule.name}' is also given to a rule of '${other.destination}': one name names one destination's policy in a namespace. Rename one of them.`,
          at,
          [related('The other rule is here.', other.location)],
        ),
      );
    } else if (other === undefined) ruleNames.set(key, rule);
  }

  // What a rule's checks read of its destination's namespace: its mTLS mode and default action (else the mesh's).
  const postures = new Map<string, string>();
  const postureOf = (namespace: string): string => {
    let posture = postures.get(namespace);
    if (posture === undefined) postures.set(namespace, (posture = `${namespaceMtls(model, namespace)} ${namespaceDefaultAction(model, namespace)}`));
    return posture;
  };
  for (const rule of model.rules) {
    const at = span(rule.location);
    const destination = services.get(rule.destination);
    if (destination === undefined) continue;
    const posture = postureOf(destination.namespace);
    const kept = memo?.rules.get(rule);
    if (kept !== undefined && kept.destination === destination && kept.posture === posture) {
      out.push(...kept.diagnostics);
      continue;
    }
    const own = ruleProblems(model, rule, destination, at);
    memo?.rules.set(rule, { destination, posture, diagnostics: own });
    out.push(...own);
  }

  // Shadowing: a rule whose every request is already decided the same or the opposite way by another.
  for (const [destination, rules] of rulesByDestination(model.rules)) {
    const named = namedServices(rules, services);
    const { trustDomain } = model.mesh;
    const kept = memo?.shadowing.get(destination);
    if (kept !== undefined && kept.trustDomain === trustDomain && sameItems(kept.rules, rules) && sameItems(kept.named, named)) {
      out.push(...kept.diagnostics);
      continue;
    }
    const own = shadowedRules(rules, services, trustDomain, span, related);
    memo?.shadowing.set(destination, { rules, named, trustDomain, diagnostics: own });
    out.push(...own);
  }
  return out;
}

/** A service's own checks (names, account, selector, ports, probes); `at` is its declaration. */
function serviceProblems(model: PolicyModel, svc: ServiceModel, at: Span | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (svc.gateway !== undefined) {
    const withMode = svc.ports.filter((p) => p.mtls !== undefined);
    if (svc.mtls !== undefined || withMode.length > 0) {
      out.push(
        diagnostic(
          'gateway-mtls',
          `Gateway '${svc.id}' sets an mTLS mode${withMode.length > 0 ? ` on port ${withMode.map((p) => p.name).join(', ')}` : ''}, but Istio applies no PeerAuthentication to gateway pods: their callers arrive without a mesh identity. Remove \`mtls\` from the gateway's ports.`,
          at,
        ),
      );
    }
  }
  // A gateway in the root namespace is the usual place of Istio's ingress gateway, not a misplaced application.
  if (svc.namespace === model.mesh.rootNamespace && svc.gateway === undefined) {
    out.push(
      diagnostic(
        'service-in-root-namespace',
        `Service '${svc.id}' is in the root namespace '${model.mesh.rootNamespace}', where Istio applies every policy to all namespaces. Move it to its own namespace, or set \`rootNamespace\` in mesh({...}) if your mesh uses another root.`,
        at,
      ),
    );
  }
  if (!isDnsLabel(svc.name)) out.push(notADnsLabel('Service name', svc.name, at));
  if (!DNS_1123_SUBDOMAIN.test(svc.serviceAccount) || svc.serviceAccount.length > 253) {
    out.push(
      diagnostic(
        'invalid-name',
        `Service account '${svc.serviceAccount}' of '${svc.id}' is not a valid Kubernetes name: use lower-case letters, digits, '-' and '.'.`,
        at,
      ),
    );
  }
  const selectorEntries = Object.entries(svc.selector);
  if (selectorEntries.length === 0) {
    out.push(
      diagnostic(
        'invalid-label',
        `Service '${svc.id}' has an empty selector, which would select every pod in the namespace. Give it the labels of its own pods.`,
        at,
      ),
    );
  }
  for (const [key, value] of selectorEntries) {
    if (!validLabelKey(key))
      out.push(
        diagnostic(
          'invalid-label',
          `Selector key '${key}' of '${svc.id}' is not a valid label key ([prefix/]name, name at most 63 characters of letters, digits, '-', '_', '.').`,
          at,
        ),
      );
    if (!(value === '' || (LABEL_NAME.test(value) && value.length <= 63)))
      out.push(
        diagnostic(
          'invalid-label',
          `Selector value '${value}' of '${svc.id}' is not a valid label value (at most 63 letters, digits, '-', '_', '.', no '*').`,
          at,
        ),
      );
  }
  const numbers = new Map<number, string>();
  if (svc.ports.length === 0)
    out.push(diagnostic('invalid-port-number', `Service '${svc.id}' declares no ports: declare each port it listens on, with its protocol.`, at));
  for (const port of svc.ports) {
    if (!PORT_NAME.test(port.name) || port.name.length > 15 || !/[a-z]/.test(port.name) || port.name.includes('--')) {
      out.push(
        diagnostic(
          'invalid-port-name',
          `Port name '${port.name}' of '${svc.id}' is not a valid Kubernetes port name: at most 15 lower-case letters, digits and '-', with at least one letter.`,
          at,
        ),
      );
    }
    if (!Number.isInteger(port.port) || port.port < 1 || port.port > 65535) {
      out.push(
        diagnostic(
          'invalid-port-number',
          `Port '${port.name}' of '${svc.id}' has number ${port.port}: use the container port, an integer from 1 to 65535.`,
          at,
        ),
      );
    }
    const clash = numbers.get(port.port);
    if (clash !== undefined)
      out.push(
        diagnostic(
          'duplicate-port-number',
          `Ports '${clash}' and '${port.name}' of '${svc.id}' both use number ${port.port}. One container port has one name.`,
          at,
        ),
      );
    numbers.set(port.port, port.name);
    for (const probe of port.probes ?? []) {
      if (probe.kind === 'tcp' && isHttpProtocol(port.protocol))
        out.push(
          diagnostic(
            'tcp-probe-on-http-port',
            `The ${probe.probe} probe of port '${port.name}' of '${svc.id}' is a TCP probe, but the port speaks ${port.protocol}: policyc decides requests there, ` +
              "not bare connections. Use an HTTP probe ({ path: '/healthz' }) on this port, or declare the port as 'tcp'.",
            at,
          ),
        );
      if (probe.kind !== 'http') continue;
      if (port.protocol !== 'http' && port.protocol !== 'http2')
        out.push(
          diagnostic(
            'probe-path-on-non-http-port',
            `The ${probe.probe} probe of port '${port.name}' of '${svc.id}' is an HTTP GET, but the port speaks ${port.protocol}. ` +
              "Use { tcp: true } for a TCP probe, or declare the probe on an 'http' or 'http2' port.",
            at,
          ),
        );
      if (!validPath(probe.path) || probe.path.includes('*'))
        out.push(
          diagnostic(
            'invalid-probe-path',
            `The ${probe.probe} probe path '${probe.path}' of port '${port.name}' of '${svc.id}' is not an exact request path: write the path the pod spec's httpGet uses, ` +
              "like '/healthz' (URL path characters, no '*', no '%' escapes, no '//', '/./' or '/../').",
            at,
          ),
        );
    }
  }
  return out;
}

/** Selectors of one namespace's services that can select the same pod: no key on which they disagree. */
function overlappingSelectors(
  group: readonly ServiceModel[],
  span: (location: RuleModel['location']) => Span | undefined,
  related: (message: string, location: RuleModel['location']) => RelatedInformation,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (let i = 0; i < group.length; i++) {
    for (let j = i + 1; j < group.length; j++) {
      // Reported at whichever of the two is declared later in the source.
      const [a, b] = [group[i] as ServiceModel, group[j] as ServiceModel].sort(
        (x, y) => compareStrings(x.location?.file ?? '', y.location?.file ?? '') || (x.location?.start ?? 0) - (y.location?.start ?? 0),
      ) as [ServiceModel, ServiceModel];
      // Gateway pods are made by the gateway's controller with its own labels, not by an application's Deployment.
      if ((a.gateway === undefined) !== (b.gateway === undefined)) continue;
      if (selectorsOverlap(a.selector, b.selector)) {
        out.push(
          diagnostic(
            'overlapping-selectors',
            `Services '${a.id}' and '${b.id}' have selectors that can select the same pods (${JSON.stringify(a.selector)} and ${JSON.stringify(b.selector)}), so each would get the other's policy. Give them a label on which they differ.`,
            span(b.location),
            [related(`'${a.id}' is declared here.`, a.location)],
          ),
        );
      }
    }
  }
  return out;
}

/** A rule's own checks against its destination and the posture of its ports; `at` is its declaration. */
function ruleProblems(model: PolicyModel, rule: RuleModel, destination: ServiceModel, at: Span | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  const describe = `${rule.action} rule to '${rule.destination}'`;
  for (const [list, values] of [
    ['sources', rule.sources],
    ['ports', rule.ports],
    ['methods', rule.methods],
    ['paths', rule.paths],
  ] as const) {
    if (values !== undefined && values.length === 0 && !(list === 'ports' && narrowsRequests(rule))) {
      out.push(diagnostic('empty-list', `The ${describe} has an empty \`${list}\` list. Leave \`${list}\` out to mean "all", or name at least one.`, at));
    }
  }
  for (const source of rule.sources) {
    for (const cidr of source.kind === 'ipBlock' || source.kind === 'remoteIpBlock' ? [source.cidr] : source.kind === 'both' ? source.cidrs : []) {
      if (!validCidr(cidr))
        out.push(diagnostic('invalid-cidr', `'${cidr}' is not an IP address or a CIDR block with its host bits zero${suggestCidr(cidr)}`, at));
    }
    if (source.kind === 'requestIdentity') {
      const wrong = [
        ...(source.subject === undefined || HEADER_VALUE.test(source.subject) ? [] : [`subject ${JSON.stringify(source.subject)}`]),
        ...Object.entries(source.claims ?? {}).flatMap(([name, value]) => [
          ...(CLAIM_NAME.test(name) ? [] : [`claim name ${JSON.stringify(name)}`]),
          ...(HEADER_VALUE.test(value) && !value.includes('*') ? [] : [`claim ${name} value ${JSON.stringify(value)}`]),
        ]),
        ...(source.subject?.includes('*') === true ? [`subject ${JSON.stringify(source.subject)}`] : []),
      ];
      if (wrong.length > 0)
        out.push(
          diagnostic(
            'invalid-request-identity',
            `requestIdentity(...) has ${[...new Set(wrong)].join(', ')}: write a non-empty subject and claim values of visible characters without '*' (meshes read '*' as a wildcard), and claim names of letters, digits, '_' and '-'. Leave \`subject\` out to accept any subject.`,
            at,
          ),
        );
    }
    if (source.kind === 'remoteIpBlock' && destination.gateway === undefined) {
      out.push(
        diagnostic(
          'remote-ip-without-gateway',
          `remoteIpBlocks('${source.cidr}') reads the original client address a gateway takes from X-Forwarded-For, but '${rule.destination}' is not a declared gateway. Write ipBlocks('${source.cidr}') for the address of the connection, or put this rule on the gateway the traffic comes through (declare it with gateway(...)).`,
          at,
        ),
      );
    }
    const identity = source.kind === 'both' ? source.identity : source;
    if (identity.kind === 'spiffe') {
      const parsed = parseSpiffeId(identity.id);
      if (
        parsed === undefined ||
        !validTrustDomain(parsed.trustDomain) ||
        /\/\/|\/$|\/\.\.?(\/|$)|%/.test(identity.id.slice('spiffe://'.length + parsed.trustDomain.length)) ||
        identity.id.length > 2048
      ) {
        out.push(
          diagnostic(
            'invalid-spiffe-id',
            `'${identity.id}' is not a SPIFFE ID: write spiffe://<trust domain>/<path>, the trust domain a lower-case DNS name, the path segments non-empty, without '.', '..' or '%' escapes (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md).`,
            at,
          ),
        );
      }
    }
    if (identity.kind === 'trustDomain' && !validTrustDomain(identity.trustDomain)) {
      out.push(
        diagnostic(
          'invalid-spiffe-id',
          `trustDomain('${identity.trustDomain}') is not a trust domain: write the DNS name alone (lower-case letters, digits, '-' and '.'), without 'spiffe://' or a path.`,
          at,
        ),
      );
    }
    if (identity.kind === 'identity' && (!DNS_1123_LABEL.test(identity.namespace) || !DNS_1123_SUBDOMAIN.test(identity.serviceAccount))) {
      out.push(
        diagnostic('invalid-name', `identity('${identity.namespace}', '${identity.serviceAccount}') is not a valid namespace and service account name.`, at),
      );
    }
  }
  for (const p of rule.paths ?? []) {
    if (!validPath(p.value)) {
      out.push(
        diagnostic(
          'invalid-path',
          `Path '${pathText(p)}' is not valid: write '/exact' or '/prefix/*', using only URL path characters (decoded: no '%' escapes; paths match as the application sees them, normalized), with '*' only at the end, and no '//', '/./' or '/../'.`,
          at,
        ),
      );
    }
  }
  for (const header of rule.headers ?? []) out.push(...headerProblems(header, at));
  const ports = rule.ports.map((name) => portNamed(destination, name));
  rule.ports.forEach((name, i) => {
    if (ports[i] === undefined)
      out.push(
        diagnostic('unknown-port', `'${rule.destination}' has no port named '${name}'. Its ports are: ${destination.ports.map((p) => p.name).join(', ')}.`, at),
      );
  });
  const known = ports.filter((p) => p !== undefined);
  if (narrowsRequests(rule)) {
    for (const port of known.filter((p) => !isHttpProtocol(p.protocol))) {
      out.push(
        diagnostic(
          'http-constraint-on-tcp',
          `Port '${port.name}' of '${rule.destination}' is TCP, so methods, paths, headers and request identities (JWT) can never be seen there. Remove them, or name only HTTP, HTTP/2 or gRPC ports.`,
          at,
        ),
      );
    }
    if (rule.ports.length === 0) {
      out.push(
        diagnostic(
          'rule-never-matches',
          `The ${describe} narrows by method, path, header or request identity, but '${rule.destination}' has no HTTP, HTTP/2 or gRPC port: it can never match.`,
          at,
        ),
      );
    }
    const grpcPorts = known.filter((p) => p.protocol === 'grpc');
    if (grpcPorts.length > 0 && rule.methods !== undefined && !grpcAdmitsMethods(rule.methods)) {
      out.push(
        diagnostic(
          'rule-never-matches',
          `gRPC calls are always HTTP ${GRPC_METHOD}, so methods [${rule.methods.join(', ')}] never match on gRPC port '${grpcPorts[0]?.name}' of '${rule.destination}'. Use ${GRPC_METHOD}, or leave methods out.`,
          at,
        ),
      );
    }
  }
  const identitySources = rule.sources.filter(isIdentitySource);
  const coversPlaintext = rule.sources.some((s) => s.kind === 'anyone');
  for (const port of known) {
    const mode = effectiveMtls(model, destination, port);
    if (rule.action === 'deny' && identitySources.length > 0 && !coversPlaintext && acceptsPlaintext(mode)) {
      out.push(
        diagnostic(
          'deny-bypassed-by-plaintext',
          destination.gateway !== undefined
            ? `This deny names callers by identity, but '${rule.destination}' is a gateway: its callers carry no mesh identity (PeerAuthentication does not apply to gateway pods), so every caller would pass it. Deny by remoteIpBlocks(...) or ipBlocks(...), or deny \`anyone\` on it.`
            : `This deny names callers by identity, but port '${port.name}' of '${rule.destination}' is ${mode}: plaintext clients carry no identity, so they would pass it. Make the port STRICT (mtls: 'STRICT'), or deny \`anyone\` on it.`,
          at,
        ),
      );
    }
    if (rule.action === 'allow' && !hasPeerIdentity(mode) && identitySources.length === rule.sources.length && identitySources.length > 0) {
      out.push(
        diagnostic(
          'identity-on-plaintext-port',
          destination.gateway !== undefined
            ? `'${rule.destination}' is a gateway: its callers carry no mesh identity (PeerAuthentication does not apply to gateway pods), so this allow never matches. Allow by remoteIpBlocks(...), ipBlocks(...) or anyone.`
            : `Port '${port.name}' of '${rule.destination}' has mTLS DISABLE, so no caller there has an identity and this allow never matches on it. Enable mTLS on the port, or allow by IP block.`,
          at,
        ),
      );
    }
  }
  if (rule.action === 'allow' && known.length > 0 && known.every((port) => effectiveDefaultAction(model, destination, port) === 'allow')) {
    out.push(
      diagnostic(
        'allow-under-default-allow',
        `The defaultAction of ${known.length === 1 ? 'port' : 'ports'} ${known.map((p) => `'${p.name}'`).join(', ')} of '${rule.destination}' is 'allow' (set on the port, service, namespace or mesh), so this allow rule changes nothing (only deny rules restrict). Remove it, or set defaultAction: 'deny' there.`,
        at,
      ),
    );
  }
  return out;
}

/** Shadowing among the rules to one destination: every request a rule admits is already decided by another. */
function shadowedRules(
  rules: readonly RuleModel[],
  services: ReadonlyMap<string, ServiceModel>,
  trustDomain: string,
  span: (location: RuleModel['location']) => Span | undefined,
  related: (message: string, location: RuleModel['location']) => RelatedInformation,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  rules.forEach((rule, i) => {
    if (rule.action !== 'allow') return;
    const deny = rules.find((other) => other.action === 'deny' && covers(other, rule, services, trustDomain));
    if (deny !== undefined) {
      out.push(
        diagnostic(
          'rule-shadowed',
          `Every request this allow rule admits is refused by a deny rule, so it has no effect. Narrow the deny, or remove this rule.`,
          span(rule.location),
          [related('The deny rule is here.', deny.location)],
        ),
      );
      return;
    }
    const twin = rules.find(
      (other, j) => other.action === 'allow' && j !== i && covers(other, rule, services, trustDomain) && (!covers(rule, other, services, trustDomain) || j < i),
    );
    if (twin !== undefined) {
      out.push(
        diagnostic('rule-shadowed', `Another allow rule already admits everything this one does. Remove one of them.`, span(rule.location), [
          related('The wider rule is here.', twin.location),
        ]),
      );
    }
  });
  return out;
}

/** The services the rules' sources name (by themselves or as the identity of both(...)), as the shadowing check looks them up. */
function namedServices(rules: readonly RuleModel[], services: ReadonlyMap<string, ServiceModel>): (ServiceModel | undefined)[] {
  const named: (ServiceModel | undefined)[] = [];
  for (const rule of rules) {
    for (const source of rule.sources) {
      const identity = source.kind === 'both' ? source.identity : source;
      if (identity.kind === 'service') named.push(services.get(identity.service));
    }
  }
  return named;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function isIdentitySource(source: SourceModel): boolean {
  return source.kind !== 'anyone' && source.kind !== 'ipBlock' && source.kind !== 'remoteIpBlock';
}

function validTrustDomain(name: string): boolean {
  return DNS_1123_SUBDOMAIN.test(name) && name.length <= 253;
}

/** PC3030/PC3031 for one header condition. */
function headerProblems(header: HeaderCondition, at: Span | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!HEADER_NAME.test(header.name) || header.name === 'host' || header.name === 'authorization') {
    const lower = header.name.toLowerCase();
    out.push(
      diagnostic(
        'invalid-header-name',
        lower === 'authorization'
          ? `Header 'authorization' carries the end user's JWT, which the mesh validates: name the caller with requestIdentity(issuer, { subject, claims }) instead.`
          : lower === 'host'
            ? `Header 'host' is not matched as a header: meshes see it as the ':authority' pseudo-header. Leave it out (a Host condition is a route's job).`
            : `Header name '${header.name}' is not a lower-case HTTP token${HEADER_NAME.test(lower) ? `: write '${lower}' (header names compare case-insensitively)` : ": use letters, digits and !#$%&'*+.^_`|~-"}.`,
        at,
      ),
    );
  }
  if (header.match.kind !== 'present' && (!HEADER_VALUE.test(header.match.value) || header.match.value.includes('*'))) {
    out.push(
      diagnostic(
        'invalid-header-value',
        `Header '${header.name}' condition ${headerMatchText(header.match)} is not valid: the value must be non-empty visible characters (inner spaces allowed) without '*', which meshes read as a wildcard. Write \`present\` to require only that the header is sent.`,
        at,
      ),
    );
  }
  return out;
}

/** Why a JWT issuer declaration cannot be compiled, or undefined. */
function jwtIssuerProblem(issuer: { issuer: string; jwksUri?: string; jwks?: string }): string | undefined {
  if (!HEADER_VALUE.test(issuer.issuer) || issuer.issuer.includes('*') || issuer.issuer.includes(' ')) {
    return "the issuer must be non-empty visible characters without spaces or '*' (it is matched exactly against the token's `iss`).";
  }
  if ((issuer.jwksUri === undefined) === (issuer.jwks === undefined)) return 'give exactly one of `jwksUri` and `jwks`.';
  if (issuer.jwksUri !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(issuer.jwksUri)) {
    return `jwksUri '${issuer.jwksUri}' is not an http(s) URL: write 'https://<host>/<path to the key set>'.`;
  }
  if (issuer.jwks !== undefined) {
    let keys: unknown;
    try {
      keys = (JSON.parse(issuer.jwks) as { keys?: unknown } | null)?.keys;
    } catch {
      keys = undefined;
    }
    if (!Array.isArray(keys) || keys.length === 0) return 'jwks must be the JSON text of a key set with a non-empty `keys` list (`{"keys":[...]}`).';
  }
  return undefined;
}

function validLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  const prefixOk = prefix === undefined || (prefix.length <= 253 && DNS_1123_SUBDOMAIN.test(prefix));
  return prefixOk && name.length <= 63 && LABEL_NAME.test(name);
}

function validPath(value: string): boolean {
  return (
    PATH_CHARS.test(value) && !value.includes('//') && !value.includes('/./') && !value.includes('/../') && !/\/\.\.?$/.test(value) && !value.includes('%')
  );
}

/** Two label selectors can both match one pod unless they require different values for some key. */
function selectorsOverlap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  return Object.entries(a).every(([key, value]) => !(key in b) || b[key] === value);
}

function suggestCidr(cidr: string): string {
  const parsed = parseCidr(cidr);
  if (parsed === undefined || parsed.family !== 4) return '.';
  return `: did you mean '${canonicalCidr(parsed)}'?`;
}

/**
 * Is every client matched by `inner` also matched by `outer`? Only used to warn about shadowed rules, so a case
 * it does not work out answers false (no warning), never a wrong true.
 */
function sourceCovers(outer: SourceModel, inner: SourceModel, services: ReadonlyMap<string, ServiceModel>, trustDomain: string): boolean {
  if (inner.kind === 'both' && outer.kind !== 'both' && outer.kind !== 'ipBlock') return sourceCovers(outer, inner.identity, services, trustDomain);
  const innerPeer = inner.kind === 'spiffe' ? parseSpiffeId(inner.id) : undefined;
  const innerIdentity = sourceIdentity(inner, services) ?? (inner.kind === 'spiffe' ? parseLocal(inner.id, trustDomain) : undefined);
  switch (outer.kind) {
    case 'anyone':
      return true;
    case 'authenticated':
      return isIdentitySource(inner);
    case 'namespace':
      return (inner.kind === 'namespace' && inner.namespace === outer.namespace) || innerIdentity?.namespace === outer.namespace;
    case 'service':
    case 'identity':
      return sameIdentity(sourceIdentity(outer, services), innerIdentity);
    case 'spiffe':
      return inner.kind === 'spiffe' ? inner.id === outer.id : innerIdentity !== undefined && sameIdentity(innerIdentity, parseLocal(outer.id, trustDomain));
    case 'trustDomain':
      return (
        (inner.kind === 'trustDomain' && inner.trustDomain === outer.trustDomain) ||
        innerPeer?.trustDomain === outer.trustDomain ||
        (outer.trustDomain === trustDomain && (innerIdentity !== undefined || inner.kind === 'namespace'))
      );
    case 'ipBlock':
      return (
        (inner.kind === 'ipBlock' && cidrContains(outer.cidr, inner.cidr)) || (inner.kind === 'both' && inner.cidrs.every((c) => cidrContains(outer.cidr, c)))
      );
    case 'both':
      return (
        inner.kind === 'both' &&
        sourceCovers(outer.identity, inner.identity, services, trustDomain) &&
        inner.cidrs.every((c) => outer.cidrs.some((o) => cidrContains(o, c)))
      );
    case 'remoteIpBlock':
      return inner.kind === 'remoteIpBlock' && cidrContains(outer.cidr, inner.cidr);
    case 'requestIdentity':
      return (
        inner.kind === 'requestIdentity' &&
        inner.issuer === outer.issuer &&
        (outer.subject === undefined || inner.subject === outer.subject) &&
        Object.entries(outer.claims ?? {}).every(([name, value]) => inner.claims?.[name] === value)
      );
    default:
      return outer satisfies never;
  }
}

/** The Kubernetes identity a SPIFFE ID names in the mesh's trust domain, if it names one. */
function parseLocal(id: string, trustDomain: string): WorkloadIdentity | undefined {
  const peer = parseSpiffeId(id);
  return peer?.trustDomain === trustDomain && peer.namespace !== undefined && peer.serviceAccount !== undefined
    ? { namespace: peer.namespace, serviceAccount: peer.serviceAccount }
    : undefined;
}

function cidrContains(outer: string, inner: string): boolean {
  const a = parseCidr(outer);
  const b = parseCidr(inner);
  return a !== undefined && b !== undefined && containsCidr(a, b);
}

function pathCovers(outer: PathMatch, inner: PathMatch): boolean {
  if (outer.kind === 'exact') return inner.kind === 'exact' && inner.value === outer.value;
  return inner.value.startsWith(outer.value);
}

/** Does `outer` match every request `inner` matches? (Same destination assumed.) */
function covers(outer: RuleModel, inner: RuleModel, services: ReadonlyMap<string, ServiceModel>, trustDomain: string): boolean {
  return (
    inner.sources.every((s) => outer.sources.some((o) => sourceCovers(o, s, services, trustDomain))) &&
    inner.ports.every((p) => outer.ports.includes(p)) &&
    (outer.methods === undefined || (inner.methods !== undefined && inner.methods.every((m) => outer.methods?.includes(m)))) &&
    (outer.paths === undefined || (inner.paths !== undefined && inner.paths.every((p) => outer.paths?.some((o) => pathCovers(o, p))))) &&
    (outer.headers ?? []).every((o) => inner.headers?.some((i) => i.name === o.name && headerCovers(o, i)) === true)
  );
}

/** Does every value that satisfies `inner` satisfy `outer` (same header)? */
function headerCovers(outer: HeaderCondition, inner: HeaderCondition): boolean {
  if (outer.match.kind === 'present') return true;
  if (inner.match.kind === 'present') return false;
  return outer.match.kind === 'exact'
    ? inner.match.kind === 'exact' && inner.match.value === outer.match.value
    : inner.match.value.startsWith(outer.match.value);
}

/**
 * Every acknowledgement names a catalogued warning and gives a reason: an unknown code would silence nothing (a
 * typo hides the warning it meant to accept from review), and errors are never acknowledged (they stop the build).
 */
function checkAcknowledgements(model: PolicyModel, store: SourceStore): Diagnostic[] {
  const out: Diagnostic[] = [];
  const check = (acknowledge: AcknowledgementsModel | undefined, where: string, location: RuleModel['location']): void => {
    for (const [code, reason] of Object.entries(acknowledge ?? {})) {
      const entry = catalogEntryOfCode(code);
      const problem =
        entry === undefined
          ? `${code} is not a policyc diagnostic code (see the Diagnostics table of the README)`
          : entry.severity === 'error'
            ? `${code} is an error, and errors cannot be acknowledged: fix what it reports`
            : reason.trim() === ''
              ? `the acknowledgement of ${code} gives no reason: say why the warning is accepted`
              : undefined;
      if (problem !== undefined) out.push(diagnostic('invalid-acknowledgement', `In ${where}, ${problem}.`, store.spanOfLocation(location)));
    }
  };
  for (const rule of model.rules) check(rule.acknowledge, `rule ${rule.id}`, rule.location);
  for (const service of model.services) for (const port of service.ports) check(port.acknowledge, `port '${port.name}' of '${service.id}'`, service.location);
  return out;
}

/**
 * The Linkerd-only settings (model.ts, 9.): the control-plane namespace is a namespace and a label of every identity
 * name; the scrapers' names and blocks follow the rules of any source; no service may claim the proxy's admin port.
 */
function checkLinkerdSettings(model: PolicyModel, span: (location: RuleModel['location']) => Span | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  const linkerd = model.mesh.linkerd;
  const at = span(model.mesh.location);
  const cp = linkerd?.controlPlaneNamespace;
  if (cp !== undefined && !isDnsLabel(cp))
    out.push(
      diagnostic(
        'invalid-control-plane-namespace',
        `linkerd.controlPlaneNamespace '${cp}' is not a DNS-1123 label: write the namespace Linkerd's control plane is installed in (at most 63 lower-case letters, digits and '-'; 'linkerd' by default).`,
        at,
      ),
    );
  if (linkerd?.proxyAdmin === undefined) return out;
  for (const scraper of linkerd.proxyAdmin.scrapedBy) {
    if (scraper.kind === 'identity' && (!isDnsLabel(scraper.namespace) || !DNS_1123_SUBDOMAIN.test(scraper.serviceAccount)))
      out.push(
        diagnostic(
          'invalid-name',
          `The proxy admin scraper ${scraper.namespace}/${scraper.serviceAccount} is not a valid namespace and service account name.`,
          at,
        ),
      );
    if (scraper.kind === 'ipBlock' && !validCidr(scraper.cidr))
      out.push(
        diagnostic(
          'invalid-cidr',
          `The proxy admin scraper '${scraper.cidr}' is not an IP address or a CIDR block with its host bits zero${suggestCidr(scraper.cidr)}`,
          at,
        ),
      );
  }
  for (const svc of model.services) {
    const taken = svc.ports.find((p) => p.port === LINKERD_PROXY_ADMIN_PORT);
    if (taken !== undefined && proxyAdminGoverns(model, svc))
      out.push(
        diagnostic(
          'proxy-admin-port-taken',
          `Port '${taken.name}' of '${svc.id}' is ${LINKERD_PROXY_ADMIN_PORT}, the Linkerd proxy's admin port, which linkerd.proxyAdmin governs in every namespace. ` +
            'The application cannot listen there under Linkerd: use another port number, or drop linkerd.proxyAdmin.',
          span(svc.location),
        ),
      );
  }
  return out;
}
