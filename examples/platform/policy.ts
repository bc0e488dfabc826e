/**
 * The platform around a policy, for Istio and Linkerd (examples/platform/README.md says what each object does):
 * kubelet probes on STRICT and PERMISSIVE ports next to path-limited rules, Prometheus scraping an app's metrics,
 * linkerd-viz scraping the Linkerd proxies, a Gateway API ingress gateway calling the app, and one namespace adopted in
 * audit mode.
 * `policyc explain kubelet shop/api --port http --path /healthz --ip 10.128.0.1 --entry examples/platform/policy.ts`
 * shows the probe allowed on every target; any other caller gets the probe paths only where a rule allows them.
 * Built for istio and linkerd (`targets`): the ambient target refuses gateways (PC4213).
 */
import { allow, anyone, deny, gateway, linkerdVizPrometheus, mesh, namespace, neverReaches, reaches, prometheus, service } from 'policyc';

const shop = namespace('shop');
const monitoring = namespace('monitoring');
const ingress = namespace('ingress');
/** Being adopted: what the policy would deny here is logged, not refused (PERMISSIVE while auditing: Linkerd's audit admits plaintext). */
const staging = namespace('staging', { mtls: 'PERMISSIVE', enforcement: 'audit' });

/**
 * The Gateway API gateway `ingress/edge`: its own proxy, reached from outside the mesh. Its pods run as `edge` on both
 * meshes (on Istio, annotate the Gateway `gateway.istio.io/service-account: edge`; on Linkerd, mesh the pods with
 * `linkerd.io/inject: enabled` in the Gateway's `spec.infrastructure.annotations` and run them as `edge`).
 */
export const edge = gateway(ingress, 'edge', {
  kind: 'gateway-api',
  serviceAccount: 'edge',
  ports: { http: { port: 8080, protocol: 'http' } },
});

/** The storefront the gateway calls: STRICT, with a readiness probe. */
export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http', probes: { readiness: { path: '/healthz' } } } } });

/** STRICT HTTP port with path-limited rules and readiness/liveness probes; a PERMISSIVE metrics port with a startup probe. */
export const api = service(shop, 'api', {
  ports: {
    http: { port: 8080, protocol: 'http', probes: { readiness: { path: '/healthz' }, liveness: { path: '/livez' } } },
    metrics: { port: 9102, protocol: 'http', mtls: 'PERMISSIVE', probes: { startup: { path: '/ready' } } },
  },
});

/** A TCP port with a TCP probe (on Linkerd it only tests the proxy: PC4126). */
export const cache = service(shop, 'cache', {
  ports: { redis: { port: 6379, protocol: 'tcp', probes: { liveness: { tcp: true } } } },
});

/** A service of the audited namespace. */
export const preview = service(staging, 'preview', {
  ports: { http: { port: 8080, protocol: 'http', probes: { readiness: { path: '/healthz' } } } },
});

/** Prometheus, which scrapes the app's metrics with its own mesh identity (a typed well-known peer). */
const appScraper = prometheus('monitoring', 'prometheus');

export default mesh({
  // The nodes' addresses: on Linkerd the probe routes admit exactly these networks.
  probeNetworks: ['10.128.0.0/16'],
  everyMeshedNamespaceListed: true,
  // Linkerd only: linkerd-viz's Prometheus scrapes every proxy's admin port 4191 (a no-op on Istio, which has no such port).
  linkerd: { proxyAdmin: { scrapedBy: [linkerdVizPrometheus()] } },
  namespaces: [monitoring],
  services: [edge, web, api, cache, preview],
  rules: [
    // The public listener: callers from outside the mesh, by address.
    allow(anyone).to(edge, { ports: ['http'] }),
    // The gateway calls the app with its own identity.
    allow(edge).to(web, { ports: ['http'], methods: ['GET', 'POST'] }),
    allow(web).to(api, { ports: ['http'], methods: ['GET', 'POST'], paths: ['/v1/*'] }),
    allow(appScraper).to(api, { ports: ['metrics'], methods: ['GET'], paths: ['/metrics'] }),
    deny(anyone).to(api, { ports: ['metrics'], paths: ['/debug/*'] }),
    allow(api).to(cache, { ports: ['redis'] }),
    allow(web).to(preview, { ports: ['http'], paths: ['/v1/*'] }),
  ],
  assertions: [
    reaches(edge, web, { port: 'http', method: 'GET', path: '/' }),
    // Not probe paths (the api's, the proxy admin port's /live and /ready): on Linkerd a client from the probe networks may GET those.
    neverReaches(edge, api, { port: 'http', method: 'POST', path: '/v1/orders' }),
    neverReaches(edge, cache, { port: 'redis' }),
    reaches(appScraper, api, { port: 'metrics', method: 'GET', path: '/metrics' }),
    // Audited: a call the rules do not allow is let through (and reported) until staging is enforced.
    reaches(api, preview, { port: 'http', method: 'GET', path: '/' }),
  ],
});
