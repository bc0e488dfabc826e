/** The shop team's services and the calls they make and accept. */
import { allow, deny, anyone, identity, service } from 'policyc';
import { shop } from './namespaces';
import { postgres } from './data';

/** The Istio ingress gateway: it runs in the root namespace, outside this repository. */
export const ingressGateway = identity('istio-system', 'istio-ingressgateway-service-account');

export const frontend = service(shop, 'frontend', {
  ports: { http: { port: 8080, protocol: 'http' } },
});

export const checkout = service(shop, 'checkout', {
  ports: { http: { port: 8080, protocol: 'http' } },
});

export const payments = service(shop, 'payments', {
  serviceAccount: 'payments-sa',
  ports: {
    grpc: { port: 9090, protocol: 'grpc' },
    // Prometheus scrapes this port; it accepts plaintext during the mesh migration.
    metrics: { port: 9102, protocol: 'http', mtls: 'PERMISSIVE' },
  },
});

export const shopServices = [frontend, checkout, payments];

export const shopRules = [
  allow(ingressGateway).to(frontend, { ports: ['http'], methods: ['GET', 'POST'], paths: ['/*'] }),
  allow(frontend).to(checkout, { ports: ['http'], methods: ['POST'], paths: ['/checkout', '/checkout/*'] }),
  allow(checkout).to(payments, { ports: ['grpc'], methods: ['POST'], paths: ['/payments.v1.Payments/*'] }),
  allow(checkout).to(postgres, { ports: ['sql'] }),
  deny(anyone).to(payments, { ports: ['metrics'], paths: ['/debug/*'] }),
];
