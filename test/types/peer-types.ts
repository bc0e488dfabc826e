/**
 * Type tests of the well-known peers and the Linkerd-only mesh settings (issue 10), compiled by `tsc` in `npm test`
 * (never run): each `@ts-expect-error` line must be a type error, or the build of the tests fails.
 */
import { allow, deny, identity, ipBlocks, linkerdVizPrometheus, mesh, namespace, prometheus, reaches, service } from '../../dsl';
import type { AccessRule, IdentityPeer, LinkerdOptions, LinkerdVizPeer, MeshPolicy, ProxyAdminScraper } from '../../dsl';

const shop = namespace('shop');
const api = service(shop, 'api', { ports: { metrics: { port: 9102, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });

// Positive: prometheus(...) is an identity, usable as any rule source; the admin port's scrapers.
const scraper: IdentityPeer = prometheus('monitoring', 'prometheus-k8s');
const viz: LinkerdVizPeer = linkerdVizPrometheus();
const vizElsewhere: LinkerdVizPeer = linkerdVizPrometheus({ namespace: 'viz' });
const scrapers: readonly ProxyAdminScraper[] = [viz, scraper, identity('ops', 'vmagent'), ipBlocks('10.0.0.0/8'), api];
const rules: AccessRule[] = [allow(scraper).to(api, { ports: ['metrics'], methods: ['GET'], paths: ['/metrics'] })];
const linkerd: LinkerdOptions = { controlPlaneNamespace: 'linkerd', proxyAdmin: { scrapedBy: [viz, ipBlocks('10.0.0.0/8')] } };
const policy: MeshPolicy = mesh({ linkerd, services: [api], rules });

// Negative: linkerd-viz's Prometheus is Linkerd-only: it is no rule source, no assertion caller, never emitted elsewhere.
// @ts-expect-error linkerdVizPrometheus() is not a Source
allow(linkerdVizPrometheus()).to(api);
// @ts-expect-error nor in a deny
deny(viz).to(api);
// @ts-expect-error nor an assertion's caller
reaches(viz, api);
// @ts-expect-error scrapedBy needs at least one scraper
mesh({ linkerd: { proxyAdmin: { scrapedBy: [] } }, services: [], rules: [] });
// @ts-expect-error a namespace is not a scraper (the admin port grants identities and addresses)
mesh({ linkerd: { proxyAdmin: { scrapedBy: [shop] } }, services: [], rules: [] });
// @ts-expect-error prometheus(...) takes the namespace and the service account
prometheus('monitoring');
// @ts-expect-error prometheus(...) still needs an HTTP port for paths
allow(scraper).to(api, { ports: ['db'], paths: ['/metrics'] });
// @ts-expect-error the control-plane namespace is a string
mesh({ linkerd: { controlPlaneNamespace: 1 }, services: [], rules: [] });

void scrapers;
void vizElsewhere;
void policy;
