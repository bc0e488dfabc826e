/**
 * Istio `PeerAuthentication` and `AuthorizationPolicy` (security.istio.io v1, v1beta1) read back into the
 * policy model, for sidecar workloads. Semantics follow shared/docs/istio.md and the Istio simulator:
 *
 * - Scope: a policy in the root namespace without selector applies to every workload, one without selector to
 *   its namespace, one with a selector to the workloads whose pods carry its labels (in its namespace, or in
 *   every namespace from the root namespace). A policy is expanded into rules on each workload it applies to.
 * - Default posture: a workload is default-deny when any ALLOW policy applies to it. When none does for any
 *   workload, the mesh is `defaultAction: 'allow'`; otherwise `'deny'`, and each workload no ALLOW policy
 *   governs gets `allow(anyone)` to every port (what Istio does for it).
 * - A rule: `from` entries ORed, the fields of one entry ANDed, values ORed; one model rule per `to` entry.
 *   On TCP ports an ALLOW rule with HTTP-only fields never matches, and a DENY rule drops those fields.
 * - mTLS: Istio's default is PERMISSIVE; a mesh-wide PeerAuthentication (root namespace, no selector) sets the
 *   mesh, one without selector its namespace, one with selector its workloads (and ports by container port).
 *
 * What the language cannot say fails closed: an ALLOW loses the part (value, source, operation, or the whole
 * rule for a `when`), so it admits less; a DENY loses the condition, so it refuses more. Either way the part
 * is kept as a comment and reported (PC6005), and the equivalence check shows exactly what differs.
 */
import type { Span } from '../diagnostics/diagnostic';
import { parseCidr } from '../model/cidr';
import { compareStrings as compare } from '../model/compare';
import {
  MODEL_VERSION,
  isHttpProtocol,
  type HttpMethod,
  type MtlsMode,
  type NamespaceModel,
  type PathMatch,
  type PolicyModel,
  type PortModel,
  type RuleModel,
  type ServiceModel,
  type SourceModel,
} from '../model/model';
import { keptParts, mergeRules, uniqueSorted, type ImportedPolicy } from './imported';
import type { ImportedObject } from './manifests';
import { namespaceOf, selects, servicesOf, type ImportedService } from './workloads';

const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const MODES = new Set(['STRICT', 'PERMISSIVE', 'DISABLE']);
const HTTP_ONLY = new Set(['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths', 'requestPrincipals', 'notRequestPrincipals']);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface IstioImportOptions {
  readonly rootNamespace: string;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** A condition the language cannot express, with where it is. */
interface Lost {
  readonly what: string;
  readonly span: Span;
}

/** The sources of one Istio rule: 'any' (no `from`, or an entry that matches every client) or a list. */
type Sources = 'any' | SourceModel[];

interface Operation {
  /** Container port numbers; undefined: every port. */
  readonly ports?: readonly number[];
  readonly methods?: readonly HttpMethod[];
  readonly paths?: readonly PathMatch[];
}

export function importIstio(objects: readonly ImportedObject[], options: IstioImportOptions): ImportedPolicy {
  const { diagnostics, comments, kept } = keptParts();
  const root = options.rootNamespace;

  for (const ra of objects.filter((o) => o.object.kind === 'RequestAuthentication')) {
    kept(ra, ra.span, 'JWT validation (request principals) cannot be expressed; requests with an invalid token are no longer refused', {
      namespace: namespaceOf(ra),
    });
  }
  const pas = objects.filter((o) => o.object.kind === 'PeerAuthentication');
  const aps = objects.filter((o) => o.object.kind === 'AuthorizationPolicy' && o.object.apiVersion.startsWith('security.istio.io/'));
  const spec = (o: ImportedObject) => record(o.object['spec']);
  const selectorOf = (o: ImportedObject): Record<string, string> | undefined => {
    const selector = spec(o)['selector'];
    if (selector === undefined || selector === null) return undefined;
    return Object.fromEntries(Object.entries(record(record(selector)['matchLabels'])).filter((e): e is [string, string] => typeof e[1] === 'string'));
  };

  // Ports nothing names a protocol for: Istio detects HTTP on them, so they are HTTP when policy on their pods uses HTTP fields.
  const usesHttpFields = (o: ImportedObject): boolean => JSON.stringify(o.object['spec'] ?? {}).match(/"(methods|paths|notMethods|notPaths)"/) !== null;
  const services = servicesOf(objects, (namespace, labels) => (aps.some((ap) => appliesTo(ap, namespace, labels) && usesHttpFields(ap)) ? 'http' : 'tcp'));
  function appliesTo(ap: ImportedObject, namespace: string, labels: Readonly<Record<string, string>>): boolean {
    const ns = namespaceOf(ap);
    if (ns !== namespace && ns !== root) return false;
    const selector = selectorOf(ap);
    return selector === undefined || selects(selector, labels);
  }
  for (const imported of services) {
    for (const note of imported.notes) {
      const origin = imported.origins[0];
      if (origin !== undefined) kept(origin, origin.span, `service ${imported.service.id}: ${note}`, { namespace: imported.service.namespace });
    }
  }
  /** The services a policy applies to; a selector matching only some pods of a service is reported. */
  const scopeOf = (o: ImportedObject): ImportedService[] => {
    const ns = namespaceOf(o);
    const selector = selectorOf(o);
    return services.filter((s) => {
      if (ns !== root && s.service.namespace !== ns) return false;
      if (selector === undefined) return true;
      const matching = s.templates.filter((t) => selects(selector, t));
      if (matching.length > 0 && matching.length < s.templates.length) {
        kept(
          o,
          o.spanAt(['spec', 'selector']),
          `its selector matches only some pods of service ${s.service.id}; a policyc service is all its pods, so the policy is not applied to it`,
          { namespace: s.service.namespace, destination: s.service.id },
        );
        return false;
      }
      return matching.length > 0;
    });
  };

  // The trust domain: the one non-default trust domain the principals name, else cluster.local.
  const trustDomains = new Set<string>();
  for (const ap of aps) {
    for (const value of JSON.stringify(spec(ap)).match(/"[^"*/]+\/ns\/[^"]+\/sa\/[^"]+"/g) ?? []) trustDomains.add(value.slice(1).split('/')[0] ?? '');
  }
  trustDomains.delete('cluster.local');
  const trustDomain = trustDomains.size === 1 ? ([...trustDomains][0] ?? 'cluster.local') : 'cluster.local';

  // mTLS
  const modeOf = (o: ImportedObject, value: unknown, field: readonly (string | number)[]): MtlsMode | undefined => {
    const mode = record(value)['mode'];
    if (mode === undefined || mode === 'UNSET') return undefined;
    if (typeof mode === 'string' && MODES.has(mode)) return mode as MtlsMode;
    kept(o, o.spanAt(field), `mTLS mode ${JSON.stringify(mode)} is not STRICT, PERMISSIVE, DISABLE or UNSET`, { namespace: namespaceOf(o) });
    return undefined;
  };
  let meshMtls: MtlsMode = 'PERMISSIVE';
  const namespaceModes = new Map<string, MtlsMode>();
  const serviceModes = new Map<string, { mtls?: MtlsMode; ports: Map<number, MtlsMode> }>();
  const seenLevel = new Map<string, ImportedObject>();
  for (const pa of pas) {
    const ns = namespaceOf(pa);
    const selector = selectorOf(pa);
    const mode = modeOf(pa, spec(pa)['mtls'], ['spec', 'mtls', 'mode']);
    if (selector === undefined) {
      const level = ns === root ? 'mesh' : `namespace ${ns}`;
      const earlier = seenLevel.get(level);
      if (earlier !== undefined) {
        kept(
          pa,
          pa.span,
          `a second ${level}-wide PeerAuthentication beside ${earlier.ref}; Istio uses the oldest, which a manifest does not say, so this one is ignored`,
          {
            namespace: ns,
          },
        );
        continue;
      }
      seenLevel.set(level, pa);
      if (spec(pa)['portLevelMtls'] !== undefined)
        comments.push({ namespace: ns, origin: pa.ref, text: 'portLevelMtls without a selector is ignored by Istio' });
      if (ns === root) meshMtls = mode ?? 'PERMISSIVE';
      else if (mode !== undefined) namespaceModes.set(ns, mode);
      continue;
    }
    const scoped = services.filter((s) => (ns === root || s.service.namespace === ns) && selects(selector, s.podLabels));
    if (scoped.length === 0) {
      kept(
        pa,
        pa.spanAt(['spec', 'selector']),
        'its selector matches no workload of the imported manifests; add the Deployment and Service it is for',
        { namespace: ns },
        'import-no-workload',
      );
      continue;
    }
    for (const s of scoped) {
      const entry = { ...(mode === undefined ? {} : { mtls: mode }), ports: new Map<number, MtlsMode>() };
      for (const [port, value] of Object.entries(record(spec(pa)['portLevelMtls']))) {
        const portMode = modeOf(pa, value, ['spec', 'portLevelMtls', port, 'mode']);
        if (portMode !== undefined && s.service.ports.some((p) => p.port === Number(port))) entry.ports.set(Number(port), portMode);
      }
      serviceModes.set(s.service.id, entry);
    }
  }

  // Authorization
  const guarded = new Set<string>();
  const drafts: { rule: Omit<RuleModel, 'id'>; origin: string }[] = [];
  const byIdentity = new Map<string, ServiceModel[]>();
  for (const { service } of services) {
    const key = `${service.namespace}/${service.serviceAccount}`;
    byIdentity.set(key, [...(byIdentity.get(key) ?? []), service]);
  }

  for (const ap of aps) {
    const ns = namespaceOf(ap);
    const s = spec(ap);
    const action = s['action'] ?? 'ALLOW';
    if (s['targetRef'] !== undefined || s['targetRefs'] !== undefined) {
      kept(ap, ap.spanAt(['spec', 'targetRefs']), 'targetRef(s) attach it to a gateway or waypoint, which sidecar policy cannot express', { namespace: ns });
      continue;
    }
    if (action === 'CUSTOM') {
      kept(ap, ap.spanAt(['spec', 'action']), 'a CUSTOM action delegates to an external authorizer, which the policy language cannot express', {
        namespace: ns,
      });
      continue;
    }
    if (action === 'AUDIT' || ['true', 'True', 'TRUE', '1', 't', 'T'].includes(ap.object.metadata.annotations?.['istio.io/dry-run'] ?? '')) {
      comments.push({
        namespace: ns,
        origin: ap.ref,
        text: `${action === 'AUDIT' ? 'an AUDIT' : 'a dry-run'} policy never changes a decision, so it has no rule here`,
      });
      continue;
    }
    if (action !== 'ALLOW' && action !== 'DENY') {
      kept(ap, ap.spanAt(['spec', 'action']), `action ${JSON.stringify(action)} is not ALLOW, DENY, AUDIT or CUSTOM`, { namespace: ns });
      continue;
    }
    const scope = scopeOf(ap);
    if (scope.length === 0) {
      kept(
        ap,
        ap.spanAt(['spec', 'selector']),
        'it applies to no workload of the imported manifests; add the Deployment and Service it governs (or it governs none, and can be deleted)',
        { namespace: ns },
        'import-no-workload',
      );
      continue;
    }
    for (const target of scope) {
      const destination = target.service;
      if (action === 'ALLOW') guarded.add(destination.id);
      const place = { namespace: destination.namespace, destination: destination.id };
      const rules = s['rules'];
      if (!Array.isArray(rules)) continue;
      rules.forEach((rawRule, ruleIndex) => {
        const rule = record(rawRule);
        const at = (...field: (string | number)[]) => ap.spanAt(['spec', 'rules', ruleIndex, ...field]);
        const lost: Lost[] = [];
        const deny = action === 'DENY';
        if (rule['when'] !== undefined) {
          lost.push({ what: `\`when\` conditions ${JSON.stringify(rule['when'])}`, span: at('when') });
          if (!deny) {
            report(lost, 'the rule is left out, so these callers are not allowed');
            return;
          }
        }
        const sources = sourcesOf(rule['from'], deny, lost, at, destination.namespace);
        const operations = operationsOf(rule['to'], deny, lost, at, destination);
        const httpOnly =
          JSON.stringify([rule['from'] ?? [], rule['to'] ?? []]).match(
            /"(hosts|notHosts|methods|notMethods|paths|notPaths|requestPrincipals|notRequestPrincipals)"/,
          ) !== null;
        report(lost, deny ? 'the condition is left out, so the deny refuses more' : 'the part is left out, so the allow admits less');
        if (sources !== 'any' && sources.length === 0) return;
        for (const operation of operations) {
          const ports = destination.ports.filter((p) => operation.ports === undefined || operation.ports.includes(p.port));
          const l7 = operation.methods !== undefined || operation.paths !== undefined;
          const http = ports.filter((p) => isHttpProtocol(p.protocol));
          const tcp = ports.filter((p) => !isHttpProtocol(p.protocol));
          const add = (chosen: readonly PortModel[], withL7: boolean) => {
            if (chosen.length === 0) return;
            drafts.push({
              origin: ap.ref,
              rule: {
                // The cluster object's name is kept when the rule can carry it alone: a policy of one workload.
                ...(scope.length === 1 ? { name: ap.object.metadata.name } : {}),
                action: deny ? 'deny' : 'allow',
                sources: sources === 'any' ? [{ kind: 'anyone' }] : sources,
                destination: destination.id,
                ports: chosen.map((p) => p.name).sort(compare),
                ...(withL7 && operation.methods !== undefined ? { methods: operation.methods } : {}),
                ...(withL7 && operation.paths !== undefined ? { paths: operation.paths } : {}),
              },
            });
          };
          if (!deny) add(httpOnly ? http : ports, true);
          else if (l7) {
            add(http, true);
            add(tcp, false);
          } else add(ports, false);
        }
      });
      function report(lost: Lost[], consequence: string): void {
        for (const l of lost.splice(0)) kept(ap, l.span, `${l.what} cannot be expressed; ${consequence}`, place);
      }
    }
  }

  function sourcesOf(from: unknown, deny: boolean, lost: Lost[], at: (...field: (string | number)[]) => Span, destinationNamespace: string): Sources {
    if (from === undefined) return 'any';
    const out: SourceModel[] = [];
    const entries = Array.isArray(from) ? from : [];
    for (const [index, entry] of entries.entries()) {
      const source = record(record(entry)['source']);
      const fields = new Map<string, SourceModel[] | 'any'>();
      let entryLost = false;
      for (const [field, raw] of Object.entries(source)) {
        const where = at('from', index, 'source', field);
        if (field !== 'principals' && field !== 'namespaces' && field !== 'ipBlocks') {
          lost.push({ what: `source field \`${field}: ${JSON.stringify(raw)}\``, span: where });
          entryLost = true;
          continue;
        }
        const values: SourceModel[] = [];
        let any = false;
        for (const value of strings(raw)) {
          const parsed = sourceValue(field, value, destinationNamespace);
          if (parsed === 'any') any = true;
          else if (parsed === undefined) {
            lost.push({ what: `${field} value "${value}"`, span: where });
            if (deny) any = true;
          } else values.push(parsed);
        }
        fields.set(field, any ? 'any' : values);
      }
      // ALLOW: a lost field makes the entry match nothing it would otherwise, so the entry is left out.
      if (entryLost && !deny) continue;
      const constrained = [...fields.values()].filter((v): v is SourceModel[] => v !== 'any');
      if (constrained.length === 0) return 'any';
      if (constrained.length > 1) {
        lost.push({ what: `one source with several fields (${[...fields.keys()].join(', ')}), which must all match`, span: at('from', index, 'source') });
        if (!deny) continue;
      }
      out.push(...(constrained[0] ?? []));
    }
    return out;
  }

  function sourceValue(field: string, value: string, destinationNamespace: string): SourceModel | 'any' | undefined {
    if (field === 'ipBlocks') return parseCidr(value) === undefined ? undefined : { kind: 'ipBlock', cidr: value };
    if (field === 'namespaces') {
      if (value === '*') return { kind: 'authenticated' };
      return DNS_LABEL.test(value) ? { kind: 'namespace', namespace: value } : undefined;
    }
    if (value === '*') return { kind: 'authenticated' };
    const parts = value.split('/');
    const [td, nsKey, ns, saKey, sa] = parts;
    if (parts.length !== 5 || nsKey !== 'ns' || saKey !== 'sa' || td === undefined || ns === undefined || sa === undefined) return undefined;
    if (td !== trustDomain && td !== 'cluster.local') return undefined;
    if (!DNS_LABEL.test(ns)) return undefined;
    if (sa === '*') return { kind: 'namespace', namespace: ns };
    if (!DNS_LABEL.test(sa)) return undefined;
    const owners = byIdentity.get(`${ns}/${sa}`) ?? [];
    const only = owners.length === 1 ? owners[0] : undefined;
    void destinationNamespace;
    return only !== undefined ? { kind: 'service', service: only.id } : { kind: 'identity', namespace: ns, serviceAccount: sa };
  }

  function operationsOf(to: unknown, deny: boolean, lost: Lost[], at: (...field: (string | number)[]) => Span, destination: ServiceModel): Operation[] {
    if (to === undefined) return [{}];
    const out: Operation[] = [];
    const entries = Array.isArray(to) ? to : [];
    for (const [index, entry] of entries.entries()) {
      const operation = record(record(entry)['operation']);
      let entryLost = false;
      let ports: number[] | undefined;
      let methods: HttpMethod[] | undefined;
      let paths: PathMatch[] | undefined;
      for (const [field, raw] of Object.entries(operation)) {
        const where = at('to', index, 'operation', field);
        const values = strings(raw);
        if (field === 'ports') {
          const numbers = values.map(Number);
          if (numbers.some((n) => !Number.isInteger(n))) {
            lost.push({ what: `ports ${JSON.stringify(values)}`, span: where });
            entryLost = true;
          } else ports = numbers;
        } else if (field === 'methods') {
          if (values.includes('*')) continue;
          const known = values.filter((m): m is HttpMethod => (HTTP_METHODS as readonly string[]).includes(m));
          if (known.length < values.length) {
            lost.push({ what: `methods ${JSON.stringify(values.filter((m) => !known.includes(m as HttpMethod)))}`, span: where });
            if (deny) continue;
          }
          methods = known;
        } else if (field === 'paths') {
          if (values.includes('*')) continue;
          const parsed = values.map((p) => (p.startsWith('/') && !p.slice(0, -1).includes('*') && !/[{}]/.test(p) ? p : undefined));
          const known = parsed
            .filter((p): p is string => p !== undefined)
            .map((p): PathMatch => (p.endsWith('*') ? { kind: 'prefix', value: p.slice(0, -1) } : { kind: 'exact', value: p }));
          if (known.length < values.length) {
            lost.push({ what: `paths ${JSON.stringify(values.filter((_, i) => parsed[i] === undefined))}`, span: where });
            if (deny) continue;
          }
          paths = known;
        } else {
          lost.push({ what: `operation field \`${field}: ${JSON.stringify(raw)}\``, span: where });
          entryLost = true;
        }
      }
      if (entryLost && !deny) continue;
      if ((methods !== undefined && methods.length === 0) || (paths !== undefined && paths.length === 0)) continue;
      if (ports !== undefined && !ports.some((p) => destination.ports.some((d) => d.port === p))) continue;
      out.push({
        ...(ports === undefined ? {} : { ports }),
        ...(methods === undefined ? {} : { methods: [...new Set(methods)].sort(compare) }),
        ...(paths === undefined ? {} : { paths }),
      });
    }
    return out;
  }
  void HTTP_ONLY;

  const defaultAction = guarded.size === 0 ? 'allow' : 'deny';
  if (defaultAction === 'deny') {
    for (const { service } of services) {
      if (guarded.has(service.id)) continue;
      drafts.push({
        origin: '',
        rule: { action: 'allow', sources: [{ kind: 'anyone' }], destination: service.id, ports: service.ports.map((p) => p.name).sort(compare) },
      });
    }
  }

  // Rules with the same content merge (their origins add up); ids as the compiler derives them.
  const { rules, origins } = mergeRules(
    drafts.map((draft) => ({
      body: {
        action: draft.rule.action,
        sources: uniqueSorted(draft.rule.sources),
        destination: draft.rule.destination,
        ports: [...new Set(draft.rule.ports)].sort(compare),
        ...(draft.rule.methods === undefined ? {} : { methods: [...new Set(draft.rule.methods)].sort(compare) }),
        ...(draft.rule.paths === undefined ? {} : { paths: uniqueSorted(draft.rule.paths) }),
        ...(draft.rule.name === undefined ? {} : { name: draft.rule.name }),
      },
      origins: draft.origin === '' ? [] : [draft.origin],
    })),
    'no ALLOW policy applies to this workload, so Istio allows every request that no DENY refuses',
  );

  const namespaceNames = new Set<string>([...services.map((s) => s.service.namespace), ...namespaceModes.keys()]);
  namespaceNames.delete(root);
  const namespaces: NamespaceModel[] = [...namespaceNames].sort(compare).map((name) => {
    const mode = namespaceModes.get(name);
    return { name, ...(mode === undefined ? {} : { mtls: mode }) };
  });
  const modelServices: ServiceModel[] = services.map(({ service }) => {
    const modes = serviceModes.get(service.id);
    return {
      ...service,
      ...(modes?.mtls === undefined ? {} : { mtls: modes.mtls }),
      ports: service.ports.map((p) => {
        const mode = modes?.ports.get(p.port);
        return mode === undefined ? p : { ...p, mtls: mode };
      }),
    };
  });
  const model: PolicyModel = {
    version: MODEL_VERSION,
    entry: 'policy.ts',
    mesh: { trustDomain, mtls: meshMtls, defaultAction, rootNamespace: root },
    namespaces,
    services: modelServices,
    rules,
  };
  return { mesh: 'istio', model, origins, services: services.map((s, i) => ({ ...s, service: modelServices[i] ?? s.service })), comments, diagnostics };
}
