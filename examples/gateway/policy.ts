import { mesh, namespace, service, gateway, allow, deny, ipBlocks, spiffe, trustDomain, both, remoteIpBlocks } from 'policyc';
const shop = namespace('shop');
const istioSystem = namespace('istio-system');
const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });
const pay = service(shop, 'pay', { ports: { grpc: { port: 9090, protocol: 'grpc' } } });
const ingress = gateway(istioSystem, 'istio-ingressgateway', { kind: 'istio-ingress', numTrustedProxies: 1, ports: { http: { port: 8080, protocol: 'http' } } });
export default mesh({
  trustDomain: 'new.example.org',
  services: [web, pay, ingress],
  rules: [
    allow(remoteIpBlocks('203.0.113.0/24')).to(ingress, { ports: ['http'] }),
    allow(ingress).to(web, { ports: ['http'] }),
    allow(spiffe('spiffe://new.example.org/vm/billing'), trustDomain('old.example.org')).to(pay),
    allow(both(web, ipBlocks('10.0.0.0/8'))).to(pay),
    allow(shop).to(web),
  ],
});
