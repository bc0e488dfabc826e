/**
 * Example (b): a shop over three namespaces — an ingress gateway in front, L7 method and path rules,
 * a database reached over TCP, Prometheus scraping a PERMISSIVE metrics port, and a deny rule.
 */
import { mesh } from 'policyc';
import { postgres } from './data';
import { monitoringRules, prometheus } from './monitoring';
import { shopRules, shopServices } from './shop';

export default mesh({
  trustDomain: 'cluster.local',
  mtls: 'STRICT',
  defaultAction: 'deny',
  services: [...shopServices, postgres, prometheus],
  rules: [...shopRules, ...monitoringRules],
});
