import { eventLine, trainProgressLine } from '../pipeline/event-lines';
import type { OnPipelineEvent } from '../pipeline/events';

/**
 * The student steps' events as stderr lines: decisions as they come, a training progress line at most every five
 * seconds (and at the last update), each validation accuracy, each predicted batch.
 */
export function studentEventPrinter(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): OnPipelineEvent {
  let lastTrainLine = 0;
  return (event) => {
    if (event.kind === 'train-progress') {
      const { progress } = event;
      if (Date.now() - lastTrainLine < 5000 && progress.step !== progress.totalSteps) return;
      lastTrainLine = Date.now();
      write(trainProgressLine(progress));
      return;
    }
    write(eventLine(event));
  };
}
