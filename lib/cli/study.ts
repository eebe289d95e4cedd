import { Command } from 'commander';
import { getTask } from '../data/tasks';
import { evaluateTeacher, type TeacherEvaluation } from '../evaluate/evaluate-teacher';
import { updatePromptMetadata } from '../evaluate/prompt-metadata';
import { matchesPublished, PUBLISHED_TEACHER_ACCURACIES } from '../evaluate/published';
import { listRecordedTemplateIds, STUDY_MODEL } from '../teacher/recorded-responses';
import { addCommonOptions, resolveRoots, type CommonOptions } from './options';
import { formatTable } from './table';

/**
 * The recorded zero-shot study, reproduced: every recorded response evaluated (every task, split and template,
 * and the few-shot PaLM teacher), compared with the published teacher accuracies; prompt metadata for the train
 * splits written into the workspace.
 */

interface StudyOptions extends CommonOptions {
  write: boolean;
}

export function studyCommand(): Command {
  const command = new Command('study')
    .description('Reproduce the study\'s teacher accuracies: evaluate every recorded teacher response, compare with the published numbers, write prompt metadata')
    .option('--no-write', 'do not write prompt metadata');
  addCommonOptions(command);
  return command.action((options: StudyOptions) => runStudy(options));
}

export function runStudy(options: StudyOptions): void {
  const started = Date.now();
  const { dataRoot, workspace } = resolveRoots(options);
  const evaluations = new Map<string, TeacherEvaluation>();
  const evaluate = (taskName: string, split: string, teacher: string): TeacherEvaluation => {
    const key = `${taskName}/${split}/${teacher}`;
    let evaluation = evaluations.get(key);
    if (!evaluation) {
      process.stdout.write(`evaluating ${taskName} ${split} (${teacher})...\n`);
      evaluation = evaluateTeacher({ task: getTask(taskName), split, dataRoot, workspace, teacher });
      evaluations.set(key, evaluation);
    }
    return evaluation;
  };

  const comparison = PUBLISHED_TEACHER_ACCURACIES.map((published) => {
    const report = evaluate(published.task, published.split, published.teacher).reports.find((candidate) => candidate.id === published.template);
    const measured = report?.evaluation.accuracy ?? null;
    return [
      published.task,
      published.split,
      published.teacher === STUDY_MODEL ? `gpt-3.5 / ${published.template}` : 'PaLM few-shot',
      published.accuracy.toFixed(published.decimals),
      measured === null ? 'n/a' : measured.toFixed(published.decimals),
      measured !== null && matchesPublished(measured, published) ? 'yes' : 'NO',
    ];
  });

  const best: (string | number | null)[][] = [];
  const written: string[] = [];
  for (const taskName of ['anli1', 'cqa', 'esnli', 'svamp']) {
    if (listRecordedTemplateIds(workspace, taskName, 'train').length === 0) continue;
    const result = evaluate(taskName, 'train', STUDY_MODEL);
    const ranked = [...result.reports].sort(
      (a, b) => (b.evaluation.accuracy ?? -1) - (a.evaluation.accuracy ?? -1) || b.evaluation.explanation_rate - a.evaluation.explanation_rate,
    );
    const top = ranked[0];
    best.push([taskName, result.reports.length, top.id, top.evaluation.accuracy, top.evaluation.explanation_rate, result.goldUnavailable ? 'no gold labels: ranked by explanation rate' : '']);
    if (options.write && !workspace.readOnly) {
      written.push(updatePromptMetadata(workspace.root, taskName, result.reports));
    }
  }

  const responses = [...evaluations.values()].reduce((sum, evaluation) => sum + evaluation.reports.reduce((inner, report) => inner + report.evaluation.n_responses, 0), 0);
  process.stdout.write('\nTeacher accuracy, published vs reproduced by zsd from the recorded responses:\n');
  process.stdout.write(`${formatTable(['task', 'split', 'teacher / template', 'published', 'zsd', 'match'], comparison)}\n`);
  process.stdout.write('\nBest prompt template per task on the recorded train responses:\n');
  process.stdout.write(`${formatTable(['task', 'templates', 'best', 'accuracy', 'expl rate', 'note'], best)}\n`);
  process.stdout.write(`\n${responses} responses evaluated in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
  if (written.length > 0) process.stdout.write(`Prompt metadata: ${written.join(', ')}\n`);
  const mismatches = comparison.filter((row) => row[5] !== 'yes').length;
  if (mismatches > 0) {
    process.stdout.write(`${mismatches} published number(s) not reproduced.\n`);
    process.exitCode = 1;
  }
}
