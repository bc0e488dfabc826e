/**
 * `policyc init [folder]`: a starter policy a team can build without editing anything: an entry and a file of
 * services it imports, a tsconfig for the editor and the team's own `tsc` (only where none exists), a
 * `.gitignore` line for node_modules, and a CI workflow that runs the reusable action with these paths.
 * It never overwrites a file: when the starter's policy files exist it writes nothing at all.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { diagnostic } from '../diagnostics/diagnostic';
import { policyCompilerOptions } from '../compiler/typecheck-options';
import { DEFAULT_ENTRY, DEFAULT_OUT, EXIT, report, type CommandContext } from './common';

/** The starter's second file, imported by the entry without an extension (the form every tsconfig accepts). */
const SERVICES_FILE = 'services.ts';
export const WORKFLOW_FILE = '.github/workflows/policy.yml';

const STARTER_SERVICES = `/**
 * The services of the namespace 'shop'. A service's port names are what rules refer to, so the editor
 * completes them and a misspelt one is a type error.
 */
import { namespace, service } from 'policyc';

/** Every service in 'shop' accepts only mTLS (mesh identities) unless a port says otherwise. */
export const shop = namespace('shop', { mtls: 'STRICT' });

/** The web front end: its pods have the label app=web and the service account 'web'. */
export const web = service(shop, 'web', {
  ports: { http: { port: 8080, protocol: 'http' } },
});

/** The API behind it. */
export const api = service(shop, 'api', {
  ports: { http: { port: 8080, protocol: 'http' } },
});
`;

const STARTER_ENTRY = `/**
 * The policy entry: \`policyc build\` compiles its default export into mesh manifests. Add services in
 * services.ts (or more files) and list them here; add rules for the calls that are allowed.
 */
import { allow, mesh } from 'policyc';
import { api, web } from './services';

export default mesh({
  // What no rule allows is denied.
  defaultAction: 'deny',
  services: [web, api],
  rules: [
    // web may call the API's http port with GET and POST under /v1/; nothing else may call the API.
    allow(web).to(api, { ports: ['http'], methods: ['GET', 'POST'], paths: ['/v1/*'] }),
  ],
});
`;

/**
 * The tsconfig the starter folder gets: policyc's own checker options (so the editor, the team's \`tsc\` and
 * policyc agree), resolving 'policyc' from node_modules instead of policyc's own path mapping. These
 * options work with TypeScript 6 and 7 and in CommonJS and \`"type": "module"\` packages alike.
 */
export function starterTsconfig(): string {
  const { paths: _ownPathMapping, ...options } = policyCompilerOptions();
  return `${JSON.stringify({ compilerOptions: options, include: ['**/*.ts'], exclude: ['node_modules'] }, null, 2)}\n`;
}

/** The CI workflow: the action shipped in the installed package, run with the starter's paths. */
export function starterWorkflow(entry: string, out: string): string {
  return `# policyc: type-check and validate the policy, check that the committed manifests are current,
# and keep one pull-request comment with the access diff up to date.
name: policy
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
  pull-requests: write # the access-diff comment (read-only on forks: the diff goes to the job summary)
  security-events: write # SARIF upload, where code scanning is available
jobs:
  policy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0 # the diff compares with the pull request's base commit
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      - run: npm ci
      # The action ships in the policyc package, so it is the version your lockfile pins.
      - uses: ./node_modules/policyc
        with:
          entry: ${entry}
          out: ${out}
          targets: istio
`;
}

/** The folder whose .gitignore and .github/ apply: the git work tree's top, else the folder itself. */
function repositoryRoot(folder: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: folder, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString('utf8')
      .trim();
  } catch {
    return folder;
  }
}

/** A path for printing and for the workflow: relative, `/`-separated, `.` for the folder itself. */
function relativePath(from: string, to: string): string {
  return path.relative(from, to).split(path.sep).join('/') || '.';
}

function ignoresNodeModules(gitignore: string): boolean {
  return gitignore.split('\n').some((line) => /^\/?node_modules\/?$/.test(line.trim()));
}

export function registerInit(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('init')
    .description('write a starter policy, a tsconfig (if none), a .gitignore line and a CI workflow; overwrites nothing')
    .argument('[folder]', 'where the policy lives', '.')
    .action((folderArgument: string) => {
      const folder = path.resolve(io.cwd, folderArgument);
      const entry = path.join(folder, DEFAULT_ENTRY);
      const services = path.join(folder, SERVICES_FILE);
      const existing = [entry, services].filter((file) => fs.existsSync(file));
      if (existing.length > 0) {
        const names = existing.map((file) => relativePath(io.cwd, file)).join(' and ');
        report(
          [
            diagnostic(
              'init-would-overwrite',
              `${names} already exist${existing.length === 1 ? 's' : ''}, so init wrote nothing. Run \`policyc init <another-folder>\` for a new policy, or build the existing one with \`policyc build ${relativePath(io.cwd, entry)}\`.`,
            ),
          ],
          'text',
          io,
          () => undefined,
        );
        context.setExit(EXIT.usage);
        return;
      }
      fs.mkdirSync(folder, { recursive: true });
      const root = repositoryRoot(folder);
      const written: string[] = [];
      const writeNew = (file: string, text: string): void => {
        if (fs.existsSync(file)) return;
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        written.push(relativePath(io.cwd, file));
      };
      writeNew(services, STARTER_SERVICES);
      writeNew(entry, STARTER_ENTRY);
      writeNew(path.join(folder, 'tsconfig.json'), starterTsconfig());
      writeNew(path.join(root, WORKFLOW_FILE), starterWorkflow(relativePath(root, entry), relativePath(root, path.join(folder, DEFAULT_OUT))));

      const gitignore = path.join(root, '.gitignore');
      const ignored = fs.existsSync(gitignore) ? fs.readFileSync(gitignore, 'utf8') : undefined;
      if (ignored === undefined || !ignoresNodeModules(ignored)) {
        const separator = ignored === undefined || ignored === '' || ignored.endsWith('\n') ? '' : '\n';
        fs.appendFileSync(gitignore, `${separator}node_modules/\n`);
        written.push(`${relativePath(io.cwd, gitignore)} (node_modules/)`);
      }

      // The commands with the defaults left out where the folder is the working directory.
      const atCwd = folder === path.resolve(io.cwd);
      const entryArgument = atCwd ? '' : ` ${relativePath(io.cwd, entry)}`;
      const outArgument = atCwd ? '' : ` --out ${relativePath(io.cwd, path.join(folder, DEFAULT_OUT))}`;
      const project = atCwd ? '' : ` -p ${relativePath(io.cwd, folder)}`;
      io.stdout(
        [
          `wrote ${written.join(', ')}`,
          'next:',
          `  npx policyc build${entryArgument}${outArgument}   # write the manifests (commit them: CI checks they are current)`,
          `  npx tsc --noEmit${project}   # your own type check, with the same options as policyc`,
          `  npx policyc lsp   # policyc's diagnostics in your editor (see the README)`,
          '',
        ].join('\n'),
      );
    });
}
