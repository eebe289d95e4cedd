import { Command } from 'commander';
import { reproduceStudy } from '../pipeline/study-reproduction';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import { printEvents } from './event-printer';
import { addCommonOptions, rootOptionsOf, type CommonOptions } from './options';
import { formatTable } from './table';

/** `zsd study`: the recorded study reproduced (lib/pipeline/study-reproduction.ts), its tables printed. */

interface StudyOptions extends CommonOptions {
  write: boolean;
}

export function studyCommand(): Command {
  const command = new Command('study')
    .description(
      "Reproduce the study's teacher accuracies: evaluate every recorded teacher response, compare with the published numbers, write prompt metadata",
    )
    .option('--no-write', 'do not write prompt metadata');
  addCommonOptions(command);
  return command.action((options: StudyOptions) => runStudy(options));
}

export function runStudy(options: StudyOptions): void {
  const study = reproduceStudy({ ...rootOptionsOf(options), writeMetadata: options.write, onEvent: printEvents() });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const comparison = study.comparisons.map(({ published, measured, matches }) => [
    published.task,
    published.split,
    published.teacher === STUDY_MODEL ? `gpt-3.5 / ${published.template}` : 'PaLM few-shot',
    published.accuracy.toFixed(published.decimals),
    measured === null ? 'n/a' : measured.toFixed(published.decimals),
    matches ? 'yes' : 'NO',
  ]);
  const best = study.bestTemplates.map(({ task, templates, best: top, goldUnavailable }) => [
    task,
    templates,
    top.id,
    top.evaluation.accuracy,
    top.evaluation.explanation_rate,
    goldUnavailable ? 'no gold labels: ranked by explanation rate' : '',
  ]);
  out('\nTeacher accuracy, published vs reproduced by zsd from the recorded responses:');
  out(formatTable(['task', 'split', 'teacher / template', 'published', 'zsd', 'match'], comparison));
  out('\nBest prompt template per task on the recorded train responses:');
  out(formatTable(['task', 'templates', 'best', 'accuracy', 'expl rate', 'note'], best));
  out(`\n${study.responses} responses evaluated in ${study.seconds.toFixed(1)} s.`);
  if (study.metadataFiles.length > 0) out(`Prompt metadata: ${study.metadataFiles.join(', ')}`);
  if (study.mismatches > 0) {
    out(`${study.mismatches} published number(s) not reproduced.`);
    process.exitCode = 1;
  }
}
