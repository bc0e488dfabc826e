/**
 * The Linkerd proxy admin port (model.ts, 9.): with `mesh({ linkerd: { proxyAdmin: { scrapedBy } } })`, every
 * namespace of the model gets what `linkerd viz allow-scrapes --namespace <ns>` writes (linkerd/linkerd2
 * `viz/cmd/allow-scrapes.go`), with policyc's names, labels and source annotation:
 *  - a Server on port 4191 (`linkerd-admin`, the proxy's own HTTP server) selecting every meshed pod of the
 *    namespace (`linkerd.io/control-plane-ns` exists: the label the proxy injector gives meshed pods), with
 *    `accessPolicy: deny`, so what no route below admits is refused;
 *  - an HTTPRoute for GET `/metrics`, authorized for the scrapers (linkerd-viz's Prometheus is its account
 *    `prometheus` in linkerd-viz, as allow-scrapes writes it);
 *  - an HTTPRoute for GET `/live` and `/ready`, the proxy's own probes, authorized for the probe networks (a
 *    Server with routes loses Linkerd's automatic probe route, linkerd.md §6, so the kubelet needs this one).
 * allow-scrapes matches path prefixes of any method; policyc writes Exact paths and GET, the requests Prometheus
 * and the kubelet send, so nothing else reaches the admin server.
 * @internal
 */
import { compareStrings } from '../../model/compare';
import {
  LINKERD_PROXY_ADMIN_PORT,
  PROXY_ADMIN_METRICS_PATH,
  PROXY_ADMIN_PROBE_PATHS,
  linkerdControlPlane,
  type PolicyModel,
  type RuleModel,
} from '../../model/model';
import type { KubernetesObject } from '../../model/target';
import type { Origin } from '../metadata';
import { allowTerms, identityString, type SourceContext, type Term } from './authz';
import { netEntryKey, type NetEntry } from './cidr';

const POLICY_GROUP = 'policy.linkerd.io';
/** The label the Linkerd proxy injector puts on every meshed pod (linkerd/linkerd2 `pkg/k8s/labels.go`, ControllerNSLabel). */
export const MESHED_POD_LABEL = 'linkerd.io/control-plane-ns';

/** What the Linkerd compilation lends this file: its name allocator and its object set. */
export interface ProxyAdminHost {
  name(kind: string, namespace: string, preferred: string, key: string): string;
  add(object: KubernetesObject, origins: readonly Origin[]): void;
}

/** The proxy admin objects of every namespace of the model; nothing without `linkerd.proxyAdmin`. */
export function compileProxyAdmin(model: PolicyModel, host: ProxyAdminHost, probeNetworks: readonly NetEntry[], sources: Omit<SourceContext, 'mode'>): void {
  const admin = model.mesh.linkerd?.proxyAdmin;
  if (admin === undefined) return;
  const origins: Origin[] = [{ file: model.mesh.location?.file, what: 'mesh linkerd.proxyAdmin' }];
  const cp = linkerdControlPlane(model.mesh);
  // The admin port accepts plaintext (the kubelet) and meshed clients alike: identities need mTLS, blocks do not.
  const scrapeRule: RuleModel = { id: 'proxy-admin-scrapers', action: 'allow', sources: admin.scrapedBy, destination: '', ports: [] };
  const scraperTerms = allowTerms(scrapeRule, { ...sources, mode: 'PERMISSIVE' });
  const probeTerms: Term[] = probeNetworks.length === 0 ? [] : [{ ids: null, nets: probeNetworks, rules: [] }];
  for (const { name: namespace } of model.namespaces) {
    const name = (kind: string, preferred: string): string => host.name(kind, namespace, preferred, `proxy-admin|${preferred}`);
    const server = name('Server', 'linkerd-proxy-admin');
    host.add(
      {
        apiVersion: `${POLICY_GROUP}/v1beta3`,
        kind: 'Server',
        metadata: { name: server, namespace },
        spec: {
          podSelector: { matchExpressions: [{ key: MESHED_POD_LABEL, operator: 'Exists' }] },
          port: LINKERD_PROXY_ADMIN_PORT,
          proxyProtocol: 'HTTP/1',
          accessPolicy: 'deny',
        },
      },
      origins,
    );
    const route = (words: string, paths: readonly string[], terms: readonly Term[]): void => {
      const routeName = name('HTTPRoute', `linkerd-proxy-admin-${words}`);
      host.add(
        {
          apiVersion: `${POLICY_GROUP}/v1beta3`,
          kind: 'HTTPRoute',
          metadata: { name: routeName, namespace },
          spec: {
            parentRefs: [{ group: POLICY_GROUP, kind: 'Server', name: server }],
            rules: [{ matches: paths.map((value) => ({ path: { type: 'Exact', value }, method: 'GET' })) }],
          },
        },
        origins,
      );
      // Named as the main compilation names grants: by what they need (an identity, a network, both).
      for (const term of terms) {
        const what = term.ids === null ? '-networks' : term.nets === null ? '' : '-identity-networks';
        authorize(host, namespace, routeName, `${words}${what}`, term, model.mesh.trustDomain, cp, origins);
      }
    };
    route('metrics', [PROXY_ADMIN_METRICS_PATH], scraperTerms);
    route('probes', PROXY_ADMIN_PROBE_PATHS, probeTerms);
  }
}

/** One AuthorizationPolicy for one grant on a route: a ServiceAccount ref, a MeshTLSAuthentication, and/or a NetworkAuthentication. */
function authorize(
  host: ProxyAdminHost,
  namespace: string,
  routeName: string,
  words: string,
  term: Term,
  trustDomain: string,
  cp: string,
  origins: readonly Origin[],
): void {
  const name = (kind: string, preferred: string): string => host.name(kind, namespace, preferred, `proxy-admin|${preferred}`);
  const refs: object[] = [];
  const only = term.ids?.length === 1 ? term.ids[0] : undefined;
  if (only?.kind === 'sa') refs.push({ group: '', kind: 'ServiceAccount', name: only.sa, namespace: only.ns });
  else if (term.ids !== null) {
    const identities = [...new Set(term.ids.map((id) => identityString(id, trustDomain, cp)))].sort(compareStrings);
    const mtls = name('MeshTLSAuthentication', `linkerd-proxy-admin-${words}`);
    host.add({ apiVersion: `${POLICY_GROUP}/v1alpha1`, kind: 'MeshTLSAuthentication', metadata: { name: mtls, namespace }, spec: { identities } }, origins);
    refs.push({ group: POLICY_GROUP, kind: 'MeshTLSAuthentication', name: mtls });
  }
  if (term.nets !== null) {
    const entries = [...term.nets].sort((a, b) => compareStrings(netEntryKey(a), netEntryKey(b)));
    const networks = entries.map((e) => ({
      cidr: e.cidr.text,
      ...(e.except.length === 0 ? {} : { except: e.except.map((x) => x.text).sort(compareStrings) }),
    }));
    const net = name('NetworkAuthentication', `linkerd-proxy-admin-${words}`);
    host.add({ apiVersion: `${POLICY_GROUP}/v1alpha1`, kind: 'NetworkAuthentication', metadata: { name: net, namespace }, spec: { networks } }, origins);
    refs.push({ group: POLICY_GROUP, kind: 'NetworkAuthentication', name: net });
  }
  // Never an empty ref list: that would admit anyone (linkerd.md §3).
  if (refs.length === 0) return;
  host.add(
    {
      apiVersion: `${POLICY_GROUP}/v1alpha1`,
      kind: 'AuthorizationPolicy',
      metadata: { name: name('AuthorizationPolicy', `linkerd-proxy-admin-${words}`), namespace },
      spec: { targetRef: { group: POLICY_GROUP, kind: 'HTTPRoute', name: routeName }, requiredAuthenticationRefs: refs },
    },
    origins,
  );
}
