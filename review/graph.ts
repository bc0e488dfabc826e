/**
 * Pictures of the access matrix: Mermaid (renders in GitHub Markdown) and Graphviz DOT. Services are
 * grouped by namespace (a Mermaid subgraph, a DOT cluster) and show each port with its protocol and mTLS
 * mode; identities and namespaces outside the services sit in their namespace's group; `authenticated`,
 * `anyone` and IP blocks stand apart. Edges carry port and L7 limits; an edge plaintext clients can use
 * is dotted (Mermaid) or dashed (DOT). The same node and edge writers draw the semantic diff.
 */
import { accessMatrix, describeLimits, sourceKey, type AccessEdge } from './access';
import { effectiveMtls, type PolicyModel, type ServiceModel, type SourceModel } from '../model/model';
import { compareStrings } from '../model/compare';

export type EdgeStyle = 'normal' | 'plaintext' | 'added' | 'removed' | 'changed';

export interface GraphNode {
  /** The source key or service id. */
  readonly key: string;
  /** The namespace group, if any. */
  readonly namespace?: string;
  /** Lines of the label. */
  readonly lines: readonly string[];
  readonly shape: 'service' | 'identity' | 'open';
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
  readonly style: EdgeStyle;
}

export function serviceNode(model: PolicyModel, service: ServiceModel): GraphNode {
  return {
    key: service.id,
    namespace: service.namespace,
    lines: [
      service.name,
      ...service.ports.map((p) => `${p.name} ${p.port}${p.name === p.protocol ? '' : `/${p.protocol}`} ${effectiveMtls(model, service, p)}`),
    ],
    shape: 'service',
  };
}

/** The node of a rule source that is not a declared service. */
function sourceNode(source: SourceModel): GraphNode | undefined {
  switch (source.kind) {
    case 'service':
      return undefined;
    case 'namespace':
      return { key: sourceKey(source), namespace: source.namespace, lines: ['any identity', `in ${source.namespace}`], shape: 'identity' };
    case 'identity':
      return { key: sourceKey(source), namespace: source.namespace, lines: [source.serviceAccount, '(identity)'], shape: 'identity' };
    case 'authenticated':
      return { key: sourceKey(source), lines: ['authenticated', '(any mesh identity)'], shape: 'open' };
    case 'anyone':
      return { key: sourceKey(source), lines: ['anyone', '(plaintext included)'], shape: 'open' };
    case 'ipBlock':
      return { key: sourceKey(source), lines: [`ip ${source.cidr}`], shape: 'open' };
    case 'spiffe':
      return { key: sourceKey(source), lines: [source.id, '(SPIFFE ID)'], shape: 'identity' };
    case 'trustDomain':
      return { key: sourceKey(source), lines: ['any identity', `of ${source.trustDomain}`], shape: 'open' };
    case 'both':
      return {
        key: sourceKey(source),
        lines: [
          ...(sourceNode(source.identity)?.lines ?? [source.identity.kind === 'service' ? source.identity.service : '']),
          `AND ip ${source.cidrs.join(', ')}`,
        ],
        shape: 'identity',
      };
    case 'remoteIpBlock':
      return { key: sourceKey(source), lines: [`remote ip ${source.cidr}`, '(via gateway)'], shape: 'open' };
    case 'requestIdentity':
      return {
        key: sourceKey(source),
        lines: [
          `jwt ${source.issuer}`,
          source.subject === undefined ? '(any subject)' : `sub ${source.subject}`,
          ...Object.entries(source.claims ?? {}).map(([k, v]) => `${k}=${v}`),
        ],
        shape: 'open',
      };
    default:
      return source satisfies never;
  }
}

/** `grpc 9090: POST /payments.v1.Payments/*`. */
export function edgeLabel(edge: AccessEdge): string {
  const except = edge.except.length === 0 ? '' : ` except ${describeLimits(edge.except, edge.protocol)}`;
  return `${edge.port} ${edge.portNumber}: ${describeLimits(edge.limits, edge.protocol)}${except}`;
}

/** Nodes for these services and for every non-service source of these edges, sorted by key. */
export function nodesFor(services: readonly GraphNode[], edges: readonly AccessEdge[]): GraphNode[] {
  const nodes = new Map(services.map((n) => [n.key, n]));
  for (const edge of edges) {
    const node = sourceNode(edge.sourceModel);
    if (node !== undefined && !nodes.has(node.key)) nodes.set(node.key, node);
  }
  return [...nodes.values()].sort((a, b) => compareStrings(a.key, b.key));
}

function groups(nodes: readonly GraphNode[]): { namespaces: [string, GraphNode[]][]; loose: GraphNode[] } {
  const byNamespace = new Map<string, GraphNode[]>();
  const loose: GraphNode[] = [];
  for (const node of nodes) {
    if (node.namespace === undefined) loose.push(node);
    else byNamespace.set(node.namespace, [...(byNamespace.get(node.namespace) ?? []), node]);
  }
  return { namespaces: [...byNamespace].sort(([a], [b]) => compareStrings(a, b)), loose };
}

/** Mermaid ids: letters, digits and `_`, unique per graph. */
function idMaker(): (kind: string, key: string) => string {
  const taken = new Map<string, string>();
  const used = new Set<string>();
  return (kind, key) => {
    const known = taken.get(`${kind}\u0000${key}`);
    if (known !== undefined) return known;
    const base = `${kind}_${key.replace(/[^A-Za-z0-9]+/g, '_').replace(/_+$/, '')}`;
    let id = base;
    for (let i = 2; used.has(id); i++) id = `${base}_${i}`;
    used.add(id);
    taken.set(`${kind}\u0000${key}`, id);
    return id;
  };
}

function mermaidText(text: string): string {
  return text.replace(/"/g, '#quot;');
}

const MERMAID_ARROW: Record<EdgeStyle, string> = { normal: '-->', plaintext: '-.->', added: '==>', removed: '-.->', changed: '==>' };
const MERMAID_LINK: Partial<Record<EdgeStyle, string>> = {
  added: 'stroke:#1a7f37,stroke-width:2px,color:#1a7f37',
  removed: 'stroke:#cf222e,stroke-width:2px,stroke-dasharray:5 5,color:#cf222e',
  changed: 'stroke:#9a6700,stroke-width:2px,color:#9a6700',
};

/** A Mermaid `graph LR` of these nodes and edges. */
export function renderMermaid(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): string {
  const id = idMaker();
  const nodeId = (key: string) => id('n', key);
  const node = (n: GraphNode): string => {
    const label = `"${n.lines.map(mermaidText).join('<br/>')}"`;
    const shaped = n.shape === 'service' ? `[${label}]` : n.shape === 'identity' ? `([${label}])` : `{{${label}}}`;
    return `${nodeId(n.key)}${shaped}`;
  };
  const out = ['graph LR'];
  const { namespaces, loose } = groups(nodes);
  for (const [namespace, members] of namespaces) {
    out.push(`  subgraph ${id('ns', namespace)}["namespace ${mermaidText(namespace)}"]`);
    for (const member of members) out.push(`    ${node(member)}`);
    out.push('  end');
  }
  for (const n of loose) out.push(`  ${node(n)}`);
  edges.forEach((e) => out.push(`  ${nodeId(e.from)} ${MERMAID_ARROW[e.style]}|"${mermaidText(e.label)}"| ${nodeId(e.to)}`));
  edges.forEach((e, i) => {
    const style = MERMAID_LINK[e.style];
    if (style !== undefined) out.push(`  linkStyle ${i} ${style}`);
  });
  const classes = new Set(nodes.map((n) => n.shape));
  if (classes.has('open')) out.push('  classDef open fill:#fff8c5,stroke:#9a6700');
  if (classes.has('identity')) out.push('  classDef identity fill:#ddf4ff,stroke:#0969da');
  for (const shape of ['open', 'identity'] as const) {
    const members = nodes.filter((n) => n.shape === shape).map((n) => nodeId(n.key));
    if (members.length > 0) out.push(`  class ${members.join(',')} ${shape}`);
  }
  return `${out.join('\n')}\n`;
}

function dotText(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const DOT_EDGE: Record<EdgeStyle, string> = {
  normal: '',
  plaintext: ', style=dashed',
  added: ', color="#1a7f37", fontcolor="#1a7f37", penwidth=2',
  removed: ', color="#cf222e", fontcolor="#cf222e", style=dashed, penwidth=2',
  changed: ', color="#9a6700", fontcolor="#9a6700", penwidth=2',
};

/** A Graphviz digraph of these nodes and edges. */
function renderDot(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): string {
  const out = ['digraph policyc {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];'];
  const node = (n: GraphNode): string => {
    const shape = n.shape === 'service' ? 'box' : n.shape === 'identity' ? 'ellipse' : 'hexagon';
    const fill = n.shape === 'open' ? ', style=filled, fillcolor="#fff8c5"' : n.shape === 'identity' ? ', style=filled, fillcolor="#ddf4ff"' : '';
    return `${dotText(n.key)} [shape=${shape}, label=${dotText(n.lines.join('\n')).replace(/\n/g, '\\n')}${fill}];`;
  };
  const { namespaces, loose } = groups(nodes);
  for (const [namespace, members] of namespaces) {
    out.push(`  subgraph ${dotText(`cluster_${namespace}`)} {`, `    label=${dotText(`namespace ${namespace}`)};`);
    for (const member of members) out.push(`    ${node(member)}`);
    out.push('  }');
  }
  for (const n of loose) out.push(`  ${node(n)}`);
  for (const e of edges) out.push(`  ${dotText(e.from)} -> ${dotText(e.to)} [label=${dotText(e.label)}${DOT_EDGE[e.style]}];`);
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** The whole access graph of a model. */
function accessGraph(model: PolicyModel): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const matrix = accessMatrix(model);
  const nodes = nodesFor(
    model.services.map((s) => serviceNode(model, s)),
    matrix,
  );
  const edges = matrix.map((e) => ({
    from: e.source,
    to: e.destination,
    label: edgeLabel(e),
    style: e.plaintext ? ('plaintext' as const) : ('normal' as const),
  }));
  return { nodes, edges };
}

export function graphMermaid(model: PolicyModel): string {
  const { nodes, edges } = accessGraph(model);
  return renderMermaid(nodes, edges);
}

export function graphDot(model: PolicyModel): string {
  const { nodes, edges } = accessGraph(model);
  return renderDot(nodes, edges);
}
