/**
 * Platform traffic: kubelet probes on STRICT and PERMISSIVE ports, next to path-limited rules.
 * `policyc explain kubelet shop/api --port http --path /healthz --entry examples/platform/policy.ts` shows
 * the probe allowed on every target; any other caller gets the probe paths only where a rule allows them.
 */
import { allow, anyone, deny, identity, mesh, namespace, service } from 'policyc';

const shop = namespace('shop');
const monitoring = namespace('monitoring');

/** STRICT HTTP port with path-limited rules and readiness/liveness probes on it. */
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

export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http', probes: { readiness: { path: '/healthz' } } } } });

const prometheus = identity('monitoring', 'prometheus');

export default mesh({
  // The nodes' addresses: on Linkerd the probe routes admit exactly these networks.
  probeNetworks: ['10.128.0.0/16'],
  everyMeshedNamespaceListed: true,
  namespaces: [monitoring],
  services: [api, cache, web],
  rules: [
    allow(web).to(api, { ports: ['http'], methods: ['GET', 'POST'], paths: ['/v1/*'] }),
    allow(prometheus).to(api, { ports: ['metrics'], methods: ['GET'], paths: ['/metrics'] }),
    deny(anyone).to(api, { ports: ['metrics'], paths: ['/debug/*'] }),
    allow(api).to(cache, { ports: ['redis'] }),
  ],
});
