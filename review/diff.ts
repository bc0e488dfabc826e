/**
 * The semantic diff of two models: which calls a change grants and revokes, which mTLS modes change,
 * which services come and go. Edges come from the two access matrices (so they read like the rules);
 * whether access really changed is decided by `decide()` on the same probe requests in both models, so
 * a rule rewritten into a wider one ("monitoring" → "anyone") is a widening, not a revocation.
 * Revocations and widenings are listed first, with what a rollout should watch.
 */
import type { KubernetesObject, Target } from '../model/target';
import { decide } from '../model/decide';
import {
  accessMatrix,
  describeLimits,
  describeSource,
  edgeKey,
  edgeMtls,
  compareEdges,
  isPlaintextRequest,
  limitKey,
  probeRequests,
  sourceBreadth,
  type AccessEdge,
} from './access';
import { edgeLabel, nodesFor, renderMermaid, serviceNode } from './graph';
import { operationsFor } from '../model/request-space';
import { compareStrings } from '../model/compare';
import { portNamed } from '../model/resolve';
import { effectiveMtls, requestPortsOf, servicesById, type MtlsMode, type PolicyModel, type PortModel, type ServiceModel } from '../model/model';

export type EdgeChangeKind = 'granted' | 'revoked' | 'widened' | 'narrowed' | 'changed' | 'restated';

/** A call whose access changed: the edge's own fields, then what changed. */
export interface EdgeChange extends Pick<AccessEdge, 'source' | 'sourceModel' | 'destination' | 'port' | 'portNumber' | 'protocol'> {
  readonly kind: EdgeChangeKind;
  /** `source → destination:port`. */
  readonly call: string;
  readonly before?: AccessEdge;
  readonly after?: AccessEdge;
  /** Probe requests of this edge that the new model allows and the old one did not. */
  readonly gained: number;
  /** Probe requests of this edge that the old model allowed and the new one does not. */
  readonly lost: number;
  /** Plaintext clients can now use this edge and could not before. */
  readonly newlyPlaintext: boolean;
}

export interface MtlsChange {
  readonly service: string;
  readonly port: string;
  readonly portNumber: number;
  readonly before: MtlsMode;
  readonly after: MtlsMode;
}

export interface ReviewItem {
  readonly kind: 'revocation' | 'widening';
  readonly call: string;
  /** What changed, in words. */
  readonly what: string;
  /** What a rollout should watch. */
  readonly watch: readonly string[];
}

export interface PolicyDiff {
  readonly base: string;
  readonly head: string;
  /** Revocations first, then widenings, each in edge order. */
  readonly review: readonly ReviewItem[];
  readonly granted: readonly EdgeChange[];
  readonly revoked: readonly EdgeChange[];
  /** Same source and port, different access (widened, narrowed or both). */
  readonly changed: readonly EdgeChange[];
  /** Written differently, same access (another rule now grants it, or a label changed). */
  readonly restated: readonly EdgeChange[];
  readonly mtls: readonly MtlsChange[];
  readonly services: { readonly added: readonly string[]; readonly removed: readonly string[] };
}

export interface DiffOptions {
  /** Labels of the two sides (a git ref, a file name). */
  readonly base: string;
  readonly head: string;
  /** The targets the policy is compiled for; each gives its rollout note for a revocation. */
  readonly targets: readonly Pick<Target, 'name' | 'revocationNote' | 'compile'>[];
}

/** Per target, the objects of the old build the new one no longer has, as `Kind namespace/name`. */
type RemovedObjects = ReadonlyMap<string, readonly { readonly namespace: string; readonly name: string; readonly text: string }[]>;

function removedObjects(before: PolicyModel, after: PolicyModel, targets: DiffOptions['targets']): RemovedObjects {
  const out = new Map<string, { namespace: string; name: string; text: string }[]>();
  const keyOf = (o: KubernetesObject): string => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  for (const target of targets) {
    const kept = new Set(target.compile(after, { spanOf: () => undefined }).objects.map(keyOf));
    const gone = target
      .compile(before, { spanOf: () => undefined })
      .objects.filter((o) => !kept.has(keyOf(o)))
      .map((o) => ({ namespace: o.metadata.namespace ?? '', name: o.metadata.name, text: keyOf(o) }));
    out.set(target.name, gone);
  }
  return out;
}

/** The removed objects of a revocation of a call to `namespace/name`: those named after that destination. */
function removedFor(removed: RemovedObjects, target: string, namespace: string, name: string): string[] {
  return (removed.get(target) ?? [])
    .filter((o) => o.namespace === namespace && (o.name === name || o.name.startsWith(`${name}-`)))
    .map((o) => o.text)
    .sort(compareStrings);
}

/** An empty model (the side of a diff where the policy did not exist yet). */
export function emptyModel(like: PolicyModel): PolicyModel {
  return { version: like.version, entry: like.entry, mesh: like.mesh, namespaces: [], services: [], rules: [] };
}

function portOf(models: readonly PolicyModel[], destination: string, portName: string): PortModel | undefined {
  for (const model of models) {
    const service = servicesById(model).get(destination);
    const port = service === undefined ? undefined : requestPortsOf(model, service).find((p) => p.name === portName);
    if (port !== undefined) return port;
  }
  return undefined;
}

function sameLabels(a: AccessEdge | undefined, b: AccessEdge | undefined): boolean {
  const text = (e: AccessEdge | undefined) => (e === undefined ? '' : `${e.limits.map(limitKey).join('|')}#${e.except.map(limitKey).join('|')}#${e.mtls}`);
  return text(a) === text(b);
}

export function diffModels(before: PolicyModel, after: PolicyModel, options: DiffOptions): PolicyDiff {
  const oldEdges = accessMatrix(before);
  const newEdges = accessMatrix(after);
  const oldServices = servicesById(before);
  const newServices = servicesById(after);
  const keys = new Map<string, { before?: AccessEdge; after?: AccessEdge }>();
  for (const e of oldEdges) keys.set(edgeKey(e), { before: e });
  for (const e of newEdges) keys.set(edgeKey(e), { ...keys.get(edgeKey(e)), after: e });

  const changes: EdgeChange[] = [];
  for (const [call, pair] of keys) {
    const edge = (pair.after ?? pair.before) as AccessEdge;
    const port = portOf([after, before], edge.destination, edge.port);
    if (port === undefined) continue;
    const operations = operationsFor([before, after], edge.destination, port);
    let gained = 0;
    let lost = 0;
    let newlyPlaintext = false;
    const newMode = modeOf(after, newServices, edge.destination, port);
    for (const request of probeRequests(edge.sourceModel, edge.destination, port, operations)) {
      const was = decide(before, request, oldServices).allowed;
      const is = decide(after, request, newServices).allowed;
      if (is && !was) {
        gained++;
        if (newMode !== undefined && isPlaintextRequest(request, newMode)) newlyPlaintext = true;
      }
      if (was && !is) lost++;
    }
    const kind: EdgeChangeKind =
      pair.before === undefined
        ? gained > 0
          ? 'granted'
          : 'restated'
        : pair.after === undefined
          ? lost > 0
            ? 'revoked'
            : 'restated'
          : gained > 0 && lost > 0
            ? 'changed'
            : gained > 0
              ? 'widened'
              : lost > 0
                ? 'narrowed'
                : 'restated';
    // Same edge, same access, same words: not a change at all.
    if (pair.before !== undefined && pair.after !== undefined && kind === 'restated' && sameLabels(pair.before, pair.after)) continue;
    changes.push({
      kind,
      call,
      source: edge.source,
      sourceModel: edge.sourceModel,
      destination: edge.destination,
      port: edge.port,
      portNumber: edge.portNumber,
      protocol: edge.protocol,
      ...(pair.before === undefined ? {} : { before: pair.before }),
      ...(pair.after === undefined ? {} : { after: pair.after }),
      gained,
      lost,
      newlyPlaintext,
    });
  }
  changes.sort(compareEdges);

  const mtls: MtlsChange[] = [];
  for (const service of after.services) {
    const old = oldServices.get(service.id);
    if (old === undefined) continue;
    for (const port of service.ports) {
      const oldPort = portNamed(old, port.name);
      if (oldPort === undefined) continue;
      const was = effectiveMtls(before, old, oldPort);
      const is = effectiveMtls(after, service, port);
      if (was !== is) mtls.push({ service: service.id, port: port.name, portNumber: port.port, before: was, after: is });
    }
  }

  const diff = {
    base: options.base,
    head: options.head,
    granted: changes.filter((c) => c.kind === 'granted'),
    revoked: changes.filter((c) => c.kind === 'revoked'),
    changed: changes.filter((c) => c.kind === 'widened' || c.kind === 'narrowed' || c.kind === 'changed'),
    restated: changes.filter((c) => c.kind === 'restated'),
    mtls,
    services: {
      added: after.services.filter((s) => !oldServices.has(s.id)).map((s) => s.id),
      removed: before.services.filter((s) => !newServices.has(s.id)).map((s) => s.id),
    },
  };
  const revokes = changes.some((c) => c.lost > 0);
  const removed: RemovedObjects = revokes ? removedObjects(before, after, options.targets) : new Map();
  return { ...diff, review: reviewItems(changes, oldEdges, options.targets, removed) };
}

function modeOf(model: PolicyModel, services: ReadonlyMap<string, ServiceModel>, destination: string, port: PortModel): MtlsMode | undefined {
  const service = services.get(destination);
  const own = service === undefined ? undefined : requestPortsOf(model, service).find((p) => p.name === port.name);
  return service === undefined || own === undefined ? undefined : edgeMtls(model, service, own);
}

/** What the old or new side of a change grants, in words. */
function changeLimits(change: EdgeChange, side: 'before' | 'after'): string {
  const edge = change[side];
  if (edge === undefined) return 'nothing';
  const except = edge.except.length === 0 ? '' : ` except ${describeLimits(edge.except, edge.protocol)}`;
  return `${describeLimits(edge.limits, edge.protocol)}${except}`;
}

/** `shop/frontend → shop/checkout:http (8080)`. */
function changeCall(change: EdgeChange): string {
  return `${change.source} → ${change.destination}:${change.port} (${change.portNumber})`;
}

function revocationWatch(change: EdgeChange, targets: DiffOptions['targets'], removed: RemovedObjects): string[] {
  const [namespace = '', name = ''] = change.destination.split('/');
  const refusal = change.protocol === 'tcp' ? 'connections are closed' : change.protocol === 'grpc' ? 'calls fail with PERMISSION_DENIED' : 'requests get 403';
  const watch = [
    `Calls from ${describeSource(change.sourceModel)}: ${refusal} after the rollout. Check that no caller still needs it (the access logs or request metrics of ${change.destination} for this source) before merging.`,
  ];
  for (const target of targets)
    watch.push(target.revocationNote({ id: change.destination, namespace, name }, removedFor(removed, target.name, namespace, name)));
  return watch;
}

function reviewItems(changes: readonly EdgeChange[], oldEdges: readonly AccessEdge[], targets: DiffOptions['targets'], removed: RemovedObjects): ReviewItem[] {
  const revocations: ReviewItem[] = [];
  const widenings: ReviewItem[] = [];
  const oldBreadth = new Map<string, number>();
  for (const e of oldEdges) {
    const key = `${e.destination}:${e.port}`;
    oldBreadth.set(key, Math.max(oldBreadth.get(key) ?? -1, sourceBreadth(e.sourceModel)));
  }
  for (const change of changes) {
    const call = changeCall(change);
    if (change.lost > 0) {
      const what =
        change.kind === 'revoked'
          ? `was ${changeLimits(change, 'before')}`
          : `narrowed: was ${changeLimits(change, 'before')}; now ${changeLimits(change, 'after')}`;
      revocations.push({ kind: 'revocation', call, what, watch: revocationWatch(change, targets, removed) });
    }
    if (change.gained === 0) continue;
    const reasons: string[] = [];
    const watch: string[] = [];
    if (change.newlyPlaintext) {
      reasons.push('now admits plaintext clients (no sidecar, no identity)');
      watch.push(
        `Anything that can reach the pod IP of ${change.destination} on port ${change.portNumber} can now call it. Confirm this is meant; prefer a service or identity source, or ipBlocks.`,
      );
    }
    const breadth = sourceBreadth(change.sourceModel);
    const before = oldBreadth.get(`${change.destination}:${change.port}`) ?? -1;
    if (breadth >= 1 && breadth > before && !(change.newlyPlaintext && change.sourceModel.kind === 'anyone')) {
      reasons.push(
        before < 0
          ? `opens the port to ${describeSource(change.sourceModel)}`
          : `opens the port to ${describeSource(change.sourceModel)}, where it had only narrower sources`,
      );
      watch.push(`Check that nothing in "${describeSource(change.sourceModel)}" should be kept out of ${change.destination} port ${change.portNumber}.`);
    }
    if (reasons.length > 0)
      widenings.push({
        kind: 'widening',
        call,
        what: `${change.kind === 'granted' ? 'granted' : 'widened'} (${changeLimits(change, 'after')}): ${reasons.join('; ')}`,
        watch,
      });
  }
  return [...revocations, ...widenings];
}

// ---------------------------------------------------------------------------------------------------------
// Printing: text for a terminal, JSON as data, Markdown (with a Mermaid picture) for a pull-request comment.

function changeLine(change: EdgeChange): string {
  switch (change.kind) {
    case 'granted':
      return `${changeCall(change)}  ${changeLimits(change, 'after')}`;
    case 'revoked':
      return `${changeCall(change)}  ${changeLimits(change, 'before')}`;
    case 'restated':
      return `${changeCall(change)}  ${restatedText(change)}`;
    default:
      return `${changeCall(change)}  ${change.kind}: ${changeLimits(change, 'before')} → ${changeLimits(change, 'after')}`;
  }
}

/** A change of words only: the access was and is the same. */
function restatedText(change: EdgeChange): string {
  if (change.after === undefined) return `was ${changeLimits(change, 'before')}; still allowed, by a wider grant`;
  if (change.before === undefined) return `${changeLimits(change, 'after')}; already allowed, by a wider grant`;
  return `${changeLimits(change, 'before')} → ${changeLimits(change, 'after')} (same access)`;
}

function isEmptyDiff(diff: PolicyDiff): boolean {
  return (
    diff.granted.length +
      diff.revoked.length +
      diff.changed.length +
      diff.restated.length +
      diff.mtls.length +
      diff.services.added.length +
      diff.services.removed.length ===
    0
  );
}

function summary(diff: PolicyDiff): string {
  const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  return [
    count(diff.granted.length, 'call granted', 'calls granted'),
    count(diff.revoked.length, 'call revoked', 'calls revoked'),
    count(diff.changed.length, 'call changed', 'calls changed'),
    count(diff.mtls.length, 'mTLS change'),
    `services: ${diff.services.added.length} added, ${diff.services.removed.length} removed`,
  ].join(', ');
}

export function formatDiffText(diff: PolicyDiff): string {
  const out = [`policyc diff ${diff.base} → ${diff.head}`, ''];
  if (isEmptyDiff(diff)) return `${out.join('\n')}\nNo change in access.\n`;
  if (diff.review.length > 0) {
    out.push('Review first:');
    for (const item of diff.review) {
      out.push(`  ${item.kind === 'revocation' ? 'REVOKED' : 'WIDENED'}  ${item.call}`, `    ${item.what}`);
      for (const w of item.watch) out.push(`    watch: ${w}`);
    }
    out.push('');
  }
  const section = (title: string, mark: string, changes: readonly EdgeChange[]) => {
    if (changes.length === 0) return;
    out.push(`${title} (${changes.length}):`, ...changes.map((c) => `  ${mark} ${changeLine(c)}`), '');
  };
  section('Granted', '+', diff.granted);
  section('Revoked', '-', diff.revoked);
  section('Changed', '~', diff.changed);
  section('Same access, written differently', '=', diff.restated);
  if (diff.mtls.length > 0) {
    out.push(`mTLS (${diff.mtls.length}):`, ...diff.mtls.map((m) => `  ${m.service}:${m.port} (${m.portNumber}) ${m.before} → ${m.after}`), '');
  }
  if (diff.services.added.length > 0) out.push(`Services added: ${diff.services.added.join(', ')}`);
  if (diff.services.removed.length > 0) out.push(`Services removed: ${diff.services.removed.join(', ')}`);
  if (diff.services.added.length + diff.services.removed.length > 0) out.push('');
  out.push(summary(diff));
  return `${out.join('\n')}\n`;
}

function edgeJson(edge: AccessEdge | undefined): unknown {
  if (edge === undefined) return undefined;
  const { sourceModel, ...rest } = edge;
  void sourceModel;
  return { ...rest, grants: describeLimits(edge.limits, edge.protocol) };
}

function changeJson(change: EdgeChange): unknown {
  return {
    kind: change.kind,
    call: edgeKey(change),
    source: change.source,
    destination: change.destination,
    port: change.port,
    portNumber: change.portNumber,
    ...(change.before === undefined ? {} : { before: edgeJson(change.before) }),
    ...(change.after === undefined ? {} : { after: edgeJson(change.after) }),
    newlyPlaintext: change.newlyPlaintext,
  };
}

/** The diff as data (`--format json`). */
export function diffAsJson(diff: PolicyDiff): unknown {
  return {
    base: diff.base,
    head: diff.head,
    review: diff.review,
    granted: diff.granted.map(changeJson),
    revoked: diff.revoked.map(changeJson),
    changed: diff.changed.map(changeJson),
    restated: diff.restated.map(changeJson),
    mtls: diff.mtls,
    services: diff.services,
  };
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

/** The Mermaid picture of the changed edges: green granted, red revoked, amber changed. */
function diffMermaid(diff: PolicyDiff, before: PolicyModel, after: PolicyModel): string {
  const changes = [...diff.granted, ...diff.revoked, ...diff.changed].sort(compareEdges);
  const serviceIds = new Set(changes.flatMap((c) => [c.destination, ...(c.sourceModel.kind === 'service' ? [c.sourceModel.service] : [])]));
  const services = [...serviceIds].sort(compareStrings).flatMap((id) => {
    const inAfter = after.services.find((s) => s.id === id);
    if (inAfter !== undefined) return [serviceNode(after, inAfter)];
    const inBefore = before.services.find((s) => s.id === id);
    return inBefore === undefined ? [] : [serviceNode(before, inBefore)];
  });
  const nodes = nodesFor(
    services,
    changes.map((c) => (c.after ?? c.before) as AccessEdge),
  );
  const edges = changes.map((c) => {
    const edge = (c.after ?? c.before) as AccessEdge;
    const label =
      c.kind === 'granted'
        ? `+ ${edgeLabel(edge)}`
        : c.kind === 'revoked'
          ? `− ${edgeLabel(edge)}`
          : `${c.kind}: ${edge.port} ${edge.portNumber}: ${changeLimits(c, 'before')} → ${changeLimits(c, 'after')}`;
    const style = c.kind === 'granted' ? ('added' as const) : c.kind === 'revoked' ? ('removed' as const) : ('changed' as const);
    return { from: c.source, to: c.destination, label, style };
  });
  return renderMermaid(nodes, edges);
}

/** A pull-request comment. */
export function formatDiffMarkdown(diff: PolicyDiff, before: PolicyModel, after: PolicyModel): string {
  const out = [`### policyc: access changes \`${diff.base}\` → \`${diff.head}\``, ''];
  if (isEmptyDiff(diff)) return `${out.join('\n')}\nNo change in access.\n`;
  out.push(`${summary(diff)}.`, '');
  if (diff.review.length > 0) {
    out.push(`#### Review first (${diff.review.length})`, '');
    for (const item of diff.review) {
      out.push(`- **${item.kind === 'revocation' ? 'Revoked' : 'Widened'}** ${code(item.call)}: ${item.what}`);
      for (const w of item.watch) out.push(`  - ${w}`);
    }
    out.push('');
  }
  const table = (title: string, changes: readonly EdgeChange[], column: (c: EdgeChange) => string) => {
    if (changes.length === 0) return;
    out.push(`#### ${title} (${changes.length})`, '', '| source | destination | port | grants |', '| --- | --- | --- | --- |');
    for (const c of changes) out.push(`| ${code(c.source)} | ${code(c.destination)} | ${c.port} (${c.portNumber}) | ${cell(column(c))} |`);
    out.push('');
  };
  table('Granted', diff.granted, (c) => changeLimits(c, 'after'));
  table('Revoked', diff.revoked, (c) => changeLimits(c, 'before'));
  table('Changed', diff.changed, (c) => `${c.kind}: ${changeLimits(c, 'before')} → ${changeLimits(c, 'after')}`);
  table('Same access, written differently', diff.restated, restatedText);
  if (diff.mtls.length > 0) {
    out.push(`#### mTLS (${diff.mtls.length})`, '', '| service | port | before | after |', '| --- | --- | --- | --- |');
    for (const m of diff.mtls) out.push(`| ${code(m.service)} | ${m.port} (${m.portNumber}) | ${m.before} | ${m.after} |`);
    out.push('');
  }
  if (diff.services.added.length + diff.services.removed.length > 0) {
    out.push('#### Services', '');
    for (const s of diff.services.added) out.push(`- added ${code(s)}`);
    for (const s of diff.services.removed) out.push(`- removed ${code(s)}`);
    out.push('');
  }
  if (diff.granted.length + diff.revoked.length + diff.changed.length > 0) {
    out.push('```mermaid', diffMermaid(diff, before, after).trimEnd(), '```', '');
  }
  return `${out.join('\n')}`;
}
