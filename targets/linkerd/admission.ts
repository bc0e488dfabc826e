/**
 * The checks Linkerd's admission webhook makes (doc §13), plus the ones nothing in the cluster makes
 * (§13 "Not checked by the webhook"), run on our own output. The webhook is `failurePolicy: Ignore`
 * by default and can be disabled per namespace, so the cluster may never make them. Every problem
 * found here is a policyc bug: the emitter is meant to never produce it.
 * @internal
 */
import type { KubernetesObject } from '../../model/target';
import { containsCidr, parseCidr, sameCidr } from '../../model/cidr';
import { HTTP_METHODS } from '../../model/model';

const POLICY_GROUP = 'policy.linkerd.io';
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const ACCESS_POLICIES = ['all-unauthenticated', 'cluster-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'deny', 'audit'];
const PROXY_PROTOCOLS = ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'];
const IDENTITY = /^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SPIFFE_IDENTITY = /^spiffe:\/\/[a-z0-9._-]+(\/[^/]+)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GRPC_SERVICE = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

type Json = Record<string, unknown>;

function obj(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * A problem of an object: found on the object alone, or by looking up the object it names (`kind/namespace/name`)
 * among those emitted.
 */
type Check = string | { readonly names: string; readonly problem: (found: KubernetesObject | undefined) => string | undefined };
/** An object's key and its checks: made once per object (objects are never changed, and a watch session's build keeps most of the last one's). */
interface Checked {
  readonly key: string;
  readonly checks: readonly Check[];
}
const checkedObjects = new WeakMap<KubernetesObject, Checked>();
const NO_CHECKS: readonly Check[] = [];

function checkedOf(o: KubernetesObject): Checked {
  let checked = checkedObjects.get(o);
  if (checked === undefined) {
    const checks = objectChecks(o);
    checked = { key: `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, checks: checks.length === 0 ? NO_CHECKS : checks };
    checkedObjects.set(o, checked);
  }
  return checked;
}

/** Every problem with a set of Linkerd objects, as `<Kind> <namespace>/<name>: <problem>` (in no particular order: diagnostics are sorted). */
export function linkerdProblems(objects: readonly KubernetesObject[]): string[] {
  const problems: string[] = [];
  const where = (o: KubernetesObject): string => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const checked: Checked[] = [];
  const index = new Map<string, KubernetesObject>();
  for (const o of objects) {
    const c = checkedOf(o);
    checked.push(c);
    if (index.has(c.key)) problems.push(`${where(o)}: two objects have this kind, namespace and name`);
    index.set(c.key, o);
  }
  checked.forEach(({ checks }, i) => {
    for (const check of checks) {
      const problem = typeof check === 'string' ? check : check.problem(index.get(check.names));
      if (problem !== undefined) problems.push(`${where(objects[i] as KubernetesObject)}: ${problem}`);
    }
  });
  return problems;
}

/** The checks of one object, in the order they are reported. */
function objectChecks(o: KubernetesObject): Check[] {
  const checks: Check[] = [];
  const report = (problem: Check): void => {
    checks.push(problem);
  };
  const ns = o.metadata.namespace ?? '';
  const spec = obj(o['spec']);
  if (!DNS_LABEL.test(o.metadata.name) || o.metadata.name.length > 63) report('the name is not a DNS-1123 label');
  if (o.metadata.namespace === undefined) report('metadata.namespace is missing');

  switch (o.kind) {
    case 'Server': {
      if (o.apiVersion !== `${POLICY_GROUP}/v1beta3`) report('a Server must be written as policy.linkerd.io/v1beta3 (accessPolicy exists only there)');
      const port = spec['port'];
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) report('port must be a number from 1 to 65535');
      if (!PROXY_PROTOCOLS.includes(str(spec['proxyProtocol']) ?? '')) report('proxyProtocol is not one Linkerd knows');
      if (!ACCESS_POLICIES.includes(str(spec['accessPolicy']) ?? '')) report('accessPolicy must be written and be a default-policy name');
      const labels = obj(obj(spec['podSelector'])['matchLabels']);
      const expressions = obj(spec['podSelector'])['matchExpressions'];
      if (Object.keys(labels).length === 0 && !(Array.isArray(expressions) && expressions.length > 0))
        report('an empty podSelector selects every pod of the namespace');
      break;
    }
    case 'AuthorizationPolicy': {
      const target = obj(spec['targetRef']);
      const kind = str(target['kind']);
      const group = str(target['group']);
      const name = str(target['name']) ?? '';
      if (group === undefined || kind === undefined) report('targetRef must carry group and kind');
      if (kind === 'Namespace') {
        if (name !== ns) report('a Namespace target must name the policy’s own namespace');
      } else if (kind === 'Server' && group === POLICY_GROUP) {
        report({
          names: `Server/${ns}/${name}`,
          problem: (found) => (found === undefined ? `targetRef names Server ${name}, which is not emitted` : undefined),
        });
      } else if (kind === 'HTTPRoute' && (group === POLICY_GROUP || group === GATEWAY_GROUP)) {
        report({
          names: `HTTPRoute/${ns}/${name}`,
          problem: (found) => (found === undefined ? `targetRef names HTTPRoute ${name}, which is not emitted` : undefined),
        });
      } else if (kind === 'GRPCRoute' && group === GATEWAY_GROUP) {
        report({
          names: `GRPCRoute/${ns}/${name}`,
          problem: (found) => (found === undefined ? `targetRef names GRPCRoute ${name}, which is not emitted` : undefined),
        });
      } else report(`targetRef ${group ?? ''}/${kind ?? ''} is not a target Linkerd supports`);
      const refs = arr(spec['requiredAuthenticationRefs']).map(obj);
      if (refs.length === 0) report('requiredAuthenticationRefs is empty, which admits anyone from anywhere');
      const count = (k: string): number => refs.filter((r) => r['kind'] === k).length;
      if (count('MeshTLSAuthentication') > 1) report('more than one MeshTLSAuthentication ref');
      if (count('ServiceAccount') > 1) report('more than one ServiceAccount ref');
      if (count('MeshTLSAuthentication') > 0 && count('ServiceAccount') > 0) report('a MeshTLSAuthentication and a ServiceAccount ref together');
      if (count('NetworkAuthentication') > 1) report('more than one NetworkAuthentication ref');
      for (const ref of refs) {
        const refKind = str(ref['kind']) ?? '';
        const refGroup = str(ref['group']);
        if (refGroup === undefined) report(`a ${refKind} ref has no group`);
        if (refKind === 'MeshTLSAuthentication' || refKind === 'NetworkAuthentication') {
          if (refGroup !== POLICY_GROUP) report(`a ${refKind} ref must have group policy.linkerd.io`);
          const refNs = str(ref['namespace']) ?? ns;
          const refName = str(ref['name']) ?? '';
          report({
            names: `${refKind}/${refNs}/${refName}`,
            problem: (found) => (found === undefined ? `ref ${refKind} ${refNs}/${refName} is not emitted` : undefined),
          });
        } else if (refKind !== 'ServiceAccount') report(`ref kind ${refKind} is not allowed`);
      }
      break;
    }
    case 'MeshTLSAuthentication': {
      const identities = arr(spec['identities']);
      if (identities.length === 0) report('identities is empty');
      if (spec['identityRefs'] !== undefined) report('policyc writes identities, never identityRefs');
      for (const id of identities) {
        const text = str(id) ?? '';
        // The webhook accepts a DNS-like name or a well-formed SPIFFE ID (linkerd.md §4, runtime/src/validation.rs).
        if (!IDENTITY.test(text) && !SPIFFE_IDENTITY.test(text)) report(`identity '${text}' is neither a DNS-like name nor a SPIFFE ID`);
      }
      break;
    }
    case 'NetworkAuthentication': {
      const networks = arr(spec['networks']).map(obj);
      if (networks.length === 0) report('networks is empty');
      for (const n of networks) {
        const cidr = parseCidr(str(n['cidr']) ?? '');
        if (cidr === undefined) {
          report(`'${str(n['cidr']) ?? ''}' is not a CIDR`);
          continue;
        }
        for (const e of arr(n['except'])) {
          const ex = parseCidr(str(e) ?? '');
          if (ex === undefined) report(`except '${str(e) ?? ''}' is not a CIDR`);
          else if (!containsCidr(cidr, ex)) report(`except ${ex.text} is not inside ${cidr.text}`);
          else if (sameCidr(cidr, ex)) report(`except ${ex.text} covers all of ${cidr.text}`);
        }
      }
      break;
    }
    case 'HTTPRoute':
    case 'GRPCRoute': {
      const grpc = o.kind === 'GRPCRoute';
      const expected = grpc ? `${GATEWAY_GROUP}/v1` : `${POLICY_GROUP}/v1beta3`;
      if (o.apiVersion !== expected) report(`policyc writes ${o.kind} as ${expected}`);
      const parents = arr(spec['parentRefs']).map(obj);
      if (parents.length === 0) report('no parentRefs');
      for (const parent of parents) {
        if (parent['group'] !== POLICY_GROUP || parent['kind'] !== 'Server') report('a parentRef must be group policy.linkerd.io, kind Server');
        if (parent['port'] !== undefined || parent['sectionName'] !== undefined) report('a Server parentRef must set no port and no sectionName');
        const parentName = str(parent['name']) ?? '';
        report({
          names: `Server/${ns}/${parentName}`,
          problem: (server) => {
            if (server === undefined) return `parent Server ${parentName} is not emitted`;
            const protocol = obj(server['spec'])['proxyProtocol'];
            if (grpc && protocol !== 'gRPC') return 'a GRPCRoute on a Server that is not gRPC is ignored';
            if (!grpc && protocol !== 'HTTP/1' && protocol !== 'HTTP/2') return 'an HTTPRoute on a Server that is not HTTP is ignored';
            return undefined;
          },
        });
      }
      const rules = arr(spec['rules']).map(obj);
      if (rules.length === 0 || rules.length > 16) report('rules must hold 1 to 16 entries');
      for (const rule of rules) {
        const matches = arr(rule['matches']).map(obj);
        if (matches.length > 8) report('a rule has more than 8 matches');
        for (const m of matches) {
          if (grpc) {
            const method = obj(m['method']);
            const service = str(method['service']);
            const name = str(method['method']);
            // The method match is optional (policy-controller k8s/index/src/routes/grpc.rs `try_match`): a match of headers alone is valid.
            if (m['method'] !== undefined && service === undefined && name === undefined) report('a gRPC method match must name a service or a method');
            if (service !== undefined && !GRPC_SERVICE.test(service)) report(`gRPC service '${service}' is not valid`);
            if (name !== undefined && !GRPC_METHOD.test(name)) report(`gRPC method '${name}' is not valid`);
            continue;
          }
          const path = obj(m['path']);
          const type = str(path['type']);
          const value = str(path['value']) ?? '';
          if (value.length > 1024) report('a path match is longer than 1024 characters');
          if (type === 'Exact' || type === 'PathPrefix') {
            if (!value.startsWith('/')) report(`path '${value}' is not absolute`);
          } else if (type === 'RegularExpression') {
            try {
              new RegExp(value);
            } catch {
              report(`path regex '${value}' does not compile`);
            }
          } else report('every path match must state its type');
          const method = m['method'];
          if (method !== undefined && !(HTTP_METHODS as readonly string[]).includes(str(method) ?? ''))
            report(`method ${String(method)} is not an HTTP method Linkerd matches`);
        }
      }
      break;
    }
    default:
      report('not a kind the Linkerd target emits');
  }
  return checks;
}
