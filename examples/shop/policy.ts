/**
 * Example (b): a shop over three namespaces — an ingress gateway in front, L7 method and path rules,
 * a database reached over TCP, Prometheus scraping a PERMISSIVE metrics port, and a deny rule.
 */
import { anyone, mesh, neverReaches, outside, plaintext, reaches } from 'policyc';
import { postgres } from './data';
import { monitoringRules, prometheus } from './monitoring';
import { shop } from './namespaces';
import { checkout, frontend, payments, shopRules, shopServices } from './shop';

export default mesh({
  trustDomain: 'cluster.local',
  mtls: 'STRICT',
  defaultAction: 'deny',
  // Mesh scope on Linkerd: the services' namespaces are every meshed namespace of this example's cluster.
  everyMeshedNamespaceListed: true,
  services: [...shopServices, postgres, prometheus],
  rules: [...shopRules, ...monitoringRules],
  // Proved by `policyc verify` on the model and on the Istio and Linkerd output.
  assertions: [
    reaches(checkout, payments, { port: 'grpc', method: 'POST', path: '/payments.v1.Payments/Charge' }),
    reaches(prometheus, payments, { port: 'metrics', method: 'GET', path: '/metrics' }),
    neverReaches(outside(shop), payments, { port: 'grpc' }),
    neverReaches(frontend, payments),
    neverReaches(anyone, payments, { port: 'metrics', path: '/debug/pprof' }),
    neverReaches(plaintext, shop),
  ],
});
