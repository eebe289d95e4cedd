import type { OnPipelineEvent } from '../pipeline/events';
import { ProgressLine } from './progress';
import { formatRunStart, waitLogger } from './teacher-run';

/**
 * A pipeline step's events as the terminal shows them: `info` lines on stdout (or where `info` says: `evaluate
 * --json` keeps stdout for its JSON), everything about the teacher run on stderr (the start line, a progress line per
 * run, waits), warnings on stderr.
 */
export function printEvents(options: { info?: (line: string) => void } = {}): OnPipelineEvent {
  const out = options.info ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const logWait = waitLogger(err);
  const progressLines = new Map<string, ProgressLine>();
  return (event) => {
    switch (event.kind) {
      case 'info':
        out(event.message);
        break;
      case 'warning':
        err(`warning: ${event.message}`);
        break;
      case 'query-start':
        if (event.estimate.queries > 0) err(formatRunStart(event.label, event.estimate, event.model, event.baseUrl, event.batch));
        break;
      case 'query-progress': {
        let line = progressLines.get(event.label);
        if (!line) progressLines.set(event.label, (line = new ProgressLine(event.label)));
        line.update(event.progress);
        break;
      }
      case 'query-finished':
        progressLines.get(event.label)?.finish();
        progressLines.delete(event.label);
        break;
      case 'query-wait':
        logWait(event.wait);
        break;
      case 'opro-start': {
        const { estimate } = event;
        if (estimate.queries === 0) break;
        err(
          `opro ${event.task}: estimated at most ${estimate.queries} queries, ~$${estimate.costUsd.toFixed(4)} for the rest of the run` +
            (estimate.completionKnown ? '' : ' plus completion tokens (none stored yet to estimate them from)') +
            (estimate.loggedRounds > 0 ? `; ${estimate.loggedRounds} rounds already in the log` : ''),
        );
        break;
      }
      default:
        // Student-side events are printed by their own commands.
        break;
    }
  };
}
