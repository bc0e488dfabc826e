/**
 * `policyc verify` (the model's access equals what each mesh would enforce from the emitted manifests) and
 * `policyc explain` (allowed or denied, and why, for one call).
 */
import type { Command } from 'commander';
import { decide, type Client, type Request, type RequestToken } from '../model/decide';
import { hasErrors } from '../diagnostics/diagnostic';
import { isProxyAdminPort, requestPortsOf, servicesById, type HttpMethod, type PolicyModel } from '../model/model';
import { simulatorFor } from '../meshes';
import { verifyBuild } from '../verify/verify-build';
import { compiledFile } from '../compiler/package-files';
import { describeRequest, manifestsFromFiles, simulatedRequest } from '../verify/compare';
import { remoteAddress } from '../model/resolve';
import { verifyAgainstFiles } from '../importer/import';
import { DEFAULT_ENTRY, EXIT, report, runCompile, withCommonOptions, type CommandContext, type CommonOptions } from './common';

export function registerVerify(program: Command, context: CommandContext): void {
  const { io } = context;

  withCommonOptions(
    program
      .command('verify')
      .description(
        "compile, then check on every request of the policy's request space that each mesh, simulated from the emitted objects, decides as the policy does",
      )
      .argument('[entry]', 'the policy entry file', DEFAULT_ENTRY)
      .option('--against <manifests...>', 'also compare, request by request, with the mesh manifests this policy replaces (files, folders, or -)')
      .option('--threads <n>', 'threads that verify (default: the available cores); the report is the same for any number'),
    'all',
  ).action((entry: string, options: CommonOptions & { against?: string[]; threads?: string }) => {
    const threads = options.threads === undefined ? undefined : Number(options.threads);
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
      io.stderr(`--threads ${options.threads ?? ''} is not a whole number of at least 1.\n`);
      return context.setExit(EXIT.usage);
    }
    const { result, exit } = runCompile(entry, options, io);
    if (result === undefined) return context.setExit(exit);
    if (exit !== EXIT.ok) {
      report(result.diagnostics, options.format, io, (f) => result.store.read(f), options);
      return context.setExit(exit);
    }
    const verification = verifyBuild(result, simulatorFor, { workerFile: compiledFile('cli/verify-worker.js'), ...(threads === undefined ? {} : { threads }) });
    const against = options.against === undefined ? undefined : verifyAgainstFiles(result, options.against, io.cwd);
    const diagnostics = [...result.diagnostics, ...verification.diagnostics, ...(against?.diagnostics ?? [])];
    report(diagnostics, options.format, io, (f) => result.store.read(f), options);
    if (options.format === 'text') {
      for (const { target, result: r } of verification.targets) {
        io.stdout(
          r === undefined
            ? `${target}: no simulator\n`
            : `${target}: ${r.checked} requests checked, ${r.differing} mismatches, ${r.unsimulated} not simulated\n`,
        );
      }
      if (against?.summary !== undefined) io.stdout(`${against.summary}\n`);
    }
    context.setExit(hasErrors(diagnostics) ? EXIT.policyErrors : EXIT.ok);
  });

  withCommonOptions(
    program
      .command('explain')
      .description('is this call allowed, and why: the deciding policy lines and, per target, the emitted objects')
      .argument('<from>', "the caller: a service ('shop/checkout'), an identity ('identity:ns/sa'), a SPIFFE ID ('spiffe://td/path') or 'plaintext'")
      .argument('<to>', "the destination service ('shop/payments')")
      .option('--entry <file>', 'the policy entry file', DEFAULT_ENTRY)
      .option('--port <port>', 'port name or number (default: the first port)')
      .option('--method <method>', 'HTTP method', 'GET')
      .option('--path <path>', 'HTTP path', '/')
      .option('--ip <ip>', 'the caller IP', '192.0.2.10')
      .option('--forwarded-for <ips>', 'the X-Forwarded-For addresses the request carries, comma-separated, leftmost first')
      .option('--header <name:value...>', "request headers, e.g. --header 'x-env: prod-1'")
      .option(
        '--jwt <issuer/subject>',
        "the end user's valid JWT, e.g. --jwt https://accounts.example.com/alice; 'invalid:<issuer>' for one that fails verification",
      )
      .option('--claim <name=value...>', 'string claims of the --jwt token'),
    'all',
  ).action((from: string, to: string, options: CommonOptions & ExplainOptions & { entry: string }) => {
    const { result, exit } = runCompile(options.entry, options, io);
    if (result?.model === undefined || exit !== EXIT.ok) {
      if (result !== undefined) report(result.diagnostics, options.format, io, (f) => result.store.read(f), options);
      return context.setExit(exit === EXIT.ok ? EXIT.policyErrors : exit);
    }
    const model = result.model;
    const request = requestOf(model, from, to, options);
    if (typeof request === 'string') {
      io.stderr(`${request}\n`);
      return context.setExit(EXIT.usage);
    }
    const decision = decide(model, request);
    const lines = [`${describeRequest(request).replace(/^.*? → /, `${from} → `)}`];
    const gateway = model.services.find((s) => s.id === request.destination)?.gateway;
    if (gateway !== undefined) {
      lines.push(
        `${to} is a gateway (${gateway.kind}, numTrustedProxies ${gateway.numTrustedProxies}): its callers carry no mesh identity (Istio applies no PeerAuthentication to gateway pods; on Linkerd its listener admits by address only); ` +
          `the original client address is ${remoteAddress(request.client.ip, request.client.forwardedFor, gateway.numTrustedProxies)}`,
      );
    }
    // An audited destination lets the call through; what enforcing would do is the point of auditing, so it is said first.
    const verdict = decision.audited === true ? 'ALLOWED, would deny (audit)' : decision.allowed ? 'ALLOWED' : 'DENIED';
    lines.push(`policy: ${verdict} — ${decision.reason}`);
    for (const rule of decision.rules)
      lines.push(
        `  ${rule.action} rule at ${rule.location === undefined ? '(unknown)' : `${rule.location.file}:${rule.location.line}:${rule.location.column}`}`,
      );
    for (const [target, files] of result.outputs) {
      const simulator = simulatorFor(target, model.mesh);
      if (simulator === undefined) continue;
      const destination = model.services.find((s) => s.id === request.destination);
      if (destination === undefined) continue;
      if (isProxyAdminPort(model, destination, request.port) && simulator.proxyAdminPort !== request.port) {
        lines.push(`${target}: no proxy admin port ${request.port} (nothing to decide; see README "Well-known peers")`);
        continue;
      }
      const simulated = simulator.decide(manifestsFromFiles(files), simulatedRequest(request, servicesById(model), model.mesh.trustDomain));
      lines.push(
        `${target}: ${simulated.verdict.toUpperCase()} — ${simulated.reason}${simulated.objects.length === 0 ? '' : ` (${simulated.objects.join(', ')})`}`,
      );
    }
    io.stdout(`${lines.join('\n')}\n`);
  });
}

interface ExplainOptions {
  readonly port?: string;
  readonly method: string;
  readonly path: string;
  readonly ip: string;
  readonly forwardedFor?: string;
  readonly header?: readonly string[];
  readonly jwt?: string;
  readonly claim?: readonly string[];
}

/** The request's headers and token from `--header`, `--jwt` and `--claim`; a string says what is malformed. */
function conditionsOf(options: ExplainOptions): Pick<Request, 'headers' | 'token'> | string {
  const headers: Record<string, string> = {};
  for (const header of options.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) return `--header '${header}' is not 'name: value'.`;
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  const claims: Record<string, string> = {};
  for (const claim of options.claim ?? []) {
    const equals = claim.indexOf('=');
    if (equals <= 0) return `--claim '${claim}' is not 'name=value'.`;
    claims[claim.slice(0, equals)] = claim.slice(equals + 1);
  }
  let token: RequestToken | undefined;
  if (options.jwt !== undefined) {
    if (options.jwt.startsWith('invalid:')) token = { kind: 'invalid', issuer: options.jwt.slice('invalid:'.length) };
    else {
      const slash = options.jwt.lastIndexOf('/');
      if (slash <= 0) return `--jwt '${options.jwt}' is not '<issuer>/<subject>'.`;
      token = { kind: 'valid', issuer: options.jwt.slice(0, slash), subject: options.jwt.slice(slash + 1), claims };
    }
  }
  return { ...(options.header === undefined ? {} : { headers }), ...(token === undefined ? {} : { token }) };
}

function requestOf(model: PolicyModel, from: string, to: string, options: ExplainOptions): Request | string {
  const destination = model.services.find((s) => s.id === to);
  if (destination === undefined) return `Unknown destination '${to}'. Services: ${model.services.map((s) => s.id).join(', ')}.`;
  // The Linkerd proxy admin port, where linkerd.proxyAdmin declares it (model.ts, 9.), by name or number.
  const ports = requestPortsOf(model, destination);
  const port = options.port === undefined ? destination.ports[0] : ports.find((p) => p.name === options.port || String(p.port) === options.port);
  if (port === undefined) return `'${to}' has no port '${options.port ?? ''}'. Ports: ${destination.ports.map((p) => `${p.name} (${p.port})`).join(', ')}.`;
  let client: Client;
  const forwarded = options.forwardedFor === undefined ? {} : { forwardedFor: options.forwardedFor.split(',').map((a) => a.trim()) };
  if (from === 'plaintext') client = { kind: 'plaintext', ip: options.ip, ...forwarded };
  else if (from === 'kubelet') client = { kind: 'kubelet', ip: options.ip };
  else if (from.startsWith('identity:')) {
    const [namespace = '', serviceAccount = ''] = from.slice('identity:'.length).split('/');
    client = { kind: 'identity', namespace, serviceAccount, ip: options.ip, tls: true, ...forwarded };
  } else if (from.startsWith('spiffe://')) client = { kind: 'spiffe', id: from, ip: options.ip, tls: true, ...forwarded };
  else if (model.services.some((s) => s.id === from)) client = { kind: 'service', service: from, ip: options.ip, tls: true, ...forwarded };
  else
    return `Unknown caller '${from}'. Use a service (${model.services.map((s) => s.id).join(', ')}), identity:<ns>/<sa>, spiffe://<td>/<path>, plaintext or kubelet.`;
  const http = port.protocol !== 'tcp';
  const conditions = conditionsOf(options);
  if (typeof conditions === 'string') return conditions;
  return {
    client,
    destination: destination.id,
    port: port.port,
    ...(http ? { method: (port.protocol === 'grpc' ? 'POST' : options.method.toUpperCase()) as HttpMethod, path: options.path, ...conditions } : {}),
  };
}
