/** The data team's database: TCP only, so rules to it name ports but never methods or paths. */
import { service } from 'policyc';
import { data } from './namespaces';

export const postgres = service(data, 'postgres', {
  selector: { app: 'postgres', tier: 'primary' },
  ports: { sql: { port: 5432, protocol: 'tcp' } },
});
