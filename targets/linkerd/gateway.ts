/**
 * Gateways on Linkerd. A Gateway API implementation's pods (an Envoy-based gateway, say) are meshed like any
 * workload: the Gateway's `spec.infrastructure.annotations` can carry `linkerd.io/inject`
 * (https://gateway-api.sigs.k8s.io/guides/infrastructure), and a meshed ingress has an inbound side, where Linkerd
 * enforces Servers and authorizations, and an outbound side, whose calls carry the pod's service-account identity
 * over mTLS (https://linkerd.io/2/tasks/using-ingress). So a `kind: 'gateway-api'` gateway compiles exactly:
 *  - as a destination: the model gives its callers no identity (model.ts, 1.), and its listeners' callers come
 *    from outside the mesh. Each listener port gets a Server that admits what the model admits by address only
 *    (`anyone`: every network, `ipBlocks`: a NetworkAuthentication), never requiring mTLS; the rule sources that
 *    need an identity never match there and are left out (a meshed caller's identity must not admit it either);
 *  - as a caller: by its pods' service account, like any workload (one ServiceAccount ref or a
 *    MeshTLSAuthentication identity).
 * What cannot be exact is refused where it is written: Istio's ingress gateway (an Istio proxy, PC4116), the
 * original client address (`remoteIpBlocks`, PC4115, reported with the other sources), and a gateway calling with
 * Istio's default account `<name>-istio` (PC4140): Istio names a Gateway's generated objects `<name>-<class>`
 * with class `istio` (istio/istio#43103), another implementation names its own.
 * @internal
 */
import type { DiagnosticId } from '../../diagnostics/catalog';
import { effectiveMtls, type MtlsMode, type PolicyModel, type PortModel, type RuleModel, type ServiceModel, type SourceModel } from '../../model/model';

type Report = (id: DiagnosticId, message: string, location: RuleModel['location']) => void;

/** Whether the source can match a caller without identity (all a gateway's callers are, model.ts 1.). */
function matchesWithoutIdentity(source: SourceModel): boolean {
  return source.kind === 'anyone' || source.kind === 'ipBlock' || source.kind === 'remoteIpBlock';
}

/**
 * The rule as Linkerd compiles it: to a Gateway API gateway, only its sources that can match a caller without
 * identity (undefined when none is left: the rule never matches there); any other rule unchanged.
 */
export function listenerRule(rule: RuleModel, services: ReadonlyMap<string, ServiceModel>): RuleModel | undefined {
  if (services.get(rule.destination)?.gateway?.kind !== 'gateway-api') return rule;
  const sources = rule.sources.filter(matchesWithoutIdentity);
  return sources.length === 0 ? undefined : sources.length === rule.sources.length ? rule : { ...rule, sources };
}

/**
 * The mode a port's Server is compiled with. A Gateway API gateway's listener admits callers without identity
 * whatever the namespace's mode (the model's DISABLE there means "no caller has an identity", not "no mTLS"):
 * compiled as PERMISSIVE, whose grants by address admit plaintext clients, with identity sources already left out.
 */
export function serverMode(model: PolicyModel, service: ServiceModel, port: PortModel): MtlsMode {
  return service.gateway?.kind === 'gateway-api' ? 'PERMISSIVE' : effectiveMtls(model, service, port);
}

/** Istio's name for a Gateway API gateway's service account (istio/istio#43103: `<name>-<class>`, class `istio`). */
function istioDefaultAccount(service: ServiceModel): boolean {
  return service.gateway?.kind === 'gateway-api' && service.serviceAccount === `${service.name}-istio`;
}

/** Reports what of the model's gateways Linkerd cannot express; returns the gateways not compiled. */
export function checkGateways(model: PolicyModel, services: ReadonlyMap<string, ServiceModel>, report: Report): Set<string> {
  const refused = new Set<string>();
  for (const service of model.services) {
    if (service.gateway?.kind !== 'istio-ingress') continue;
    refused.add(service.id);
    report(
      'linkerd-istio-gateway',
      `${service.id} is declared with gateway(..., { kind: 'istio-ingress' }): Istio's ingress gateway runs Istio's proxy, which Linkerd neither meshes nor configures. ` +
        "Build this policy with --target istio, or declare your Linkerd ingress as gateway(..., { kind: 'gateway-api', serviceAccount: '<its account>' }) " +
        '(a Gateway API gateway whose pods Linkerd meshes) or with service(...).',
      service.location,
    );
  }
  const reported = new Set<string>();
  for (const rule of model.rules) {
    for (const source of rule.sources) {
      const id =
        source.kind === 'service' ? source.service : source.kind === 'both' && source.identity.kind === 'service' ? source.identity.service : undefined;
      const caller = id === undefined ? undefined : services.get(id);
      if (caller === undefined) continue;
      if (caller.gateway?.kind === 'istio-ingress') {
        report(
          'linkerd-istio-gateway',
          `${caller.id} is an Istio ingress gateway, an Istio component with no Linkerd identity. Build this policy with --target istio, or name the Linkerd ingress's identity with identity(...).`,
          rule.location,
        );
      } else if (istioDefaultAccount(caller) && !reported.has(caller.id)) {
        reported.add(caller.id);
        report(
          'linkerd-gateway-account',
          `Gateway ${caller.id} calls ${rule.destination} (rule ${rule.id}) with the service account '${caller.serviceAccount}', the name Istio gives a Gateway's pods ` +
            `('<gateway>-<class>' with class istio). On Linkerd another implementation runs the gateway, and its pods have their own account: ` +
            `write gateway(..., { kind: 'gateway-api', serviceAccount: '<the account of the gateway's pods>' }) (on Istio, annotate the Gateway with ` +
            'gateway.istio.io/service-account to give its pods that same account).',
          caller.location,
        );
      }
    }
  }
  return refused;
}
