/** Monitoring: Prometheus (meshed, so it has an identity) scrapes metrics ports. */
import { allow, service } from 'policyc';
import { monitoring } from './namespaces';
import { payments } from './shop';

export const prometheus = service(monitoring, 'prometheus', {
  serviceAccount: 'prometheus-server',
  ports: { web: { port: 9090, protocol: 'http' } },
});

export const monitoringRules = [
  allow(monitoring).to(payments, { ports: ['metrics'], methods: ['GET'], paths: ['/metrics'] }),
];
