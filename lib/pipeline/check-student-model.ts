import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { initBackend, type BackendInfo, type BackendPreference } from '../student/backend';
import { checkModel, REFERENCE_FILE, type CheckModelSummary } from '../student/check-model';
import { loadT5Checkpoint } from '../student/t5-weights';

/**
 * Loads a Hugging Face T5 checkpoint (`zsd check-model`) and, when the directory holds a reference.json of PyTorch
 * outputs, checks zsd's numerics against them (loss, logits, encoder states, greedy generation, gradient norms).
 */
export type CheckStudentModelResult =
  /** no reference.json: the checkpoint loads; its size and shape */
  | { kind: 'loaded'; summary: LoadedModelSummary }
  /** compared with the reference; `summary.passed` says whether every check is within tolerance */
  | { kind: 'checked'; summary: CheckModelSummary };

export interface LoadedModelSummary {
  directory: string;
  backend: BackendInfo;
  loaded: true;
  files: string[];
  parameters: number;
  config: { dModel: number; layers: [number, number]; feedForwardProj: string };
}

export async function checkStudentModel(directory: string, options: { backend?: BackendPreference } = {}): Promise<CheckStudentModelResult> {
  const resolved = path.resolve(directory);
  if (!fs.existsSync(resolved) || !fs.statSync(resolved).isDirectory()) throw new ZsdError('not-found', `${resolved} is not a directory`);
  const prefer = options.backend ?? 'auto';
  if (fs.existsSync(path.join(resolved, REFERENCE_FILE))) return { kind: 'checked', summary: await checkModel(resolved, { prefer }) };
  const backend = await initBackend({ prefer });
  const { model, config, files } = loadT5Checkpoint(resolved);
  const parameters = model.trainableVariables().reduce((sum, variable) => sum + variable.size, 0);
  model.dispose();
  return {
    kind: 'loaded',
    summary: {
      directory: resolved,
      backend,
      loaded: true,
      files,
      parameters,
      config: { dModel: config.dModel, layers: [config.numLayers, config.numDecoderLayers], feedForwardProj: config.feedForwardProj },
    },
  };
}
