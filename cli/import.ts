/**
 * `policyc import <files|folders|->`: existing Istio manifests in, typed policy files out, then built and
 * compared with the original manifests request by request. Exit 0 when everything was imported and the build
 * decides as the original does; 1 when something could not be imported (unless `--allow-partial`), the build
 * has errors, or a request is decided differently; 2 on usage errors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { hasErrors } from '../diagnostics/diagnostic';
import { diagnosticsAsJson } from '../diagnostics/format';
import { describeDifference } from '../importer/equivalence';
import { importManifests, readManifestTexts } from '../importer/import';
import { EXIT, report, type CommandContext } from './common';

interface ImportCliOptions {
  readonly out: string;
  readonly target?: 'istio' | 'linkerd';
  readonly rootNamespace: string;
  readonly allowPartial: boolean;
  readonly format: 'text' | 'json';
}

export function registerImport(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('import')
    .description('turn existing Istio manifests (and the Deployments and Services they govern) into typed policy files, and prove the result equivalent')
    .argument('<inputs...>', 'YAML files, folders of YAML files, or - for standard input (e.g. `kubectl get … -o yaml | policyc import -`)')
    .option('-o, --out <folder>', 'where the policy files are written', 'policy')
    .addOption(new Option('-t, --target <mesh>', 'mesh to build the imported policy for (default: the manifests’ own)').choices(['istio', 'linkerd']))
    .option('--root-namespace <name>', "Istio's root namespace", 'istio-system')
    .option('--allow-partial', 'exit 0 even when some policy could not be imported (it is kept as comments and listed)', false)
    .addOption(new Option('--format <format>', 'text, or one JSON report on stdout').choices(['text', 'json']).default('text'))
    .action((inputs: string[], options: ImportCliOptions) => {
      const read = readManifestTexts(inputs, io.cwd, () => fs.readFileSync(0, 'utf8'));
      const readSource = (file: string) => read.texts.find((t) => t.file === file)?.text ?? (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined);
      if (read.diagnostics.length > 0) {
        report(read.diagnostics, options.format, io, readSource);
        return context.setExit(EXIT.usage);
      }
      const out = path.resolve(io.cwd, options.out);
      const outcome = importManifests({
        texts: read.texts,
        out,
        ...(options.target === undefined ? {} : { target: options.target }),
        rootNamespace: options.rootNamespace,
      });
      const notImported = outcome.diagnostics.filter((d) => d.id === 'import-inexpressible' || d.id === 'import-no-workload');
      const failed = hasErrors(outcome.diagnostics);
      const equivalent = outcome.equivalence !== undefined && outcome.equivalence.differences.length === 0;
      if (options.format === 'json') {
        const relative = (file: string) => path.relative(io.cwd, file).split(path.sep).join('/');
        io.stdout(
          `${JSON.stringify(
            {
              files: outcome.written.map((f) => relative(path.join(out, f))),
              partial: outcome.partial,
              notImported: diagnosticsAsJson(notImported, io.cwd),
              equivalence:
                outcome.equivalence === undefined
                  ? null
                  : {
                      equivalent,
                      checked: outcome.equivalence.checked,
                      unsupported: outcome.equivalence.unsupported.length,
                      differences: outcome.equivalence.differences.map(describeDifference),
                    },
              diagnostics: diagnosticsAsJson(outcome.diagnostics, io.cwd),
            },
            null,
            2,
          )}\n`,
        );
      } else {
        report(outcome.diagnostics, 'text', io, readSource);
        const lines: string[] = [];
        if (outcome.written.length > 0)
          lines.push(`wrote ${outcome.written.length} files to ${path.relative(io.cwd, out) || '.'}: ${outcome.written.join(', ')}`);
        if (notImported.length > 0) lines.push(`not imported (${notImported.length}, kept as comments):`, ...notImported.map((d) => `  ${d.message}`));
        if (outcome.equivalence !== undefined) {
          const { checked, differences, unsupported } = outcome.equivalence;
          const skipped = unsupported.length === 0 ? '' : `, ${unsupported.length} not simulated`;
          lines.push(
            differences.length === 0
              ? `equivalent: ${checked} requests decided the same from the original manifests and from the build${skipped}`
              : `not equivalent: ${differences.length} of ${checked} requests are decided differently${skipped}`,
          );
        }
        io.stdout(`${lines.join('\n')}\n`);
      }
      const incomplete = outcome.partial && !options.allowPartial;
      const different = outcome.equivalence !== undefined && !equivalent && !options.allowPartial;
      context.setExit(failed || incomplete || different ? EXIT.policyErrors : EXIT.ok);
    });
}
