import { resolveDataRoot } from '../core/paths';
import { exportOnnx, type ExportOnnxOptions, type ExportOnnxResult } from '../student/export/export-onnx';

/**
 * A T5 checkpoint as the folder transformers.js and onnxruntime load (`zsd export`; optimum's layout: config.json,
 * generation_config.json, tokenizer files, onnx/encoder_model.onnx and onnx/decoder_model_merged.onnx).
 */
export interface ExportStudentOptions extends Omit<ExportOnnxOptions, 'dataRoot'> {
  /** data root, for the T5 tokenizer when neither `tokenizer` nor the checkpoint has one (default: $ZSD_DATA or ../shared/data) */
  data?: string;
}

export function exportStudent(options: ExportStudentOptions): ExportOnnxResult {
  const { data, ...rest } = options;
  return exportOnnx({ ...rest, dataRoot: options.tokenizer === undefined ? resolveDataRoot(data) : undefined });
}
