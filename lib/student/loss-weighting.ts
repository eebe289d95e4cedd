/**
 * Distilling step-by-step's multi-task loss, per micro-step: alpha * label loss + (1 - alpha) * sum_s w_s * rationale
 * loss_s over the batches of one step (trainer.ts runs the steps; gradient-engine.ts differentiates them).
 */
import { ZsdError } from '../core/errors';
import { IGNORE_INDEX } from './t5-model';
import type { EncodedBatch } from './batches';

// ---------------------------------------------------------------------------------------------------------------
// The loss of one micro-step

/**
 * The factor of each batch's mean token cross-entropy in the micro-step's loss: alpha for the predict batch and
 * (1 - alpha) * w_s / sum(w) for the explain batches present (weight 1 each when not given), or 1 for the predict
 * batch when there is no explain batch (standard mode, or a step where every rationale was dropped). Renormalising
 * over the sources present mirrors the per-token mean inside a batch: a source missing from a step does not shrink
 * the rationale term.
 */
export function lossCoefficients(batches: readonly Pick<EncodedBatch, 'task' | 'weight'>[], alpha: number): number[] {
  if (!(alpha >= 0 && alpha <= 1)) throw new ZsdError('usage', `alpha must be in [0, 1], got ${alpha}`, { key: 'alpha' });
  const shares = rationaleShares(batches);
  if (shares === null) return batches.map(() => 1);
  return batches.map((batch, i) => (batch.task === 'predict' ? alpha : (1 - alpha) * shares[i]));
}

/** w_s / sum(w) for each explain batch (0 for the predict batch), or null when the step has no explain batch. */
export function rationaleShares(batches: readonly Pick<EncodedBatch, 'task' | 'weight'>[]): number[] | null {
  const predict = batches.filter((batch) => batch.task === 'predict').length;
  if (predict !== 1) throw new ZsdError('internal', `a training step needs exactly one predict batch, got ${predict}`);
  if (!batches.some((batch) => batch.task === 'explain')) return null;
  const weights = batches.map((batch) => (batch.task === 'explain' ? (batch.weight ?? 1) : 0));
  if (weights.some((weight) => !(weight >= 0) || !Number.isFinite(weight))) {
    throw new ZsdError('usage', `rationale weights must be finite and >= 0, got ${weights.filter((_, i) => batches[i].task === 'explain').join(', ')}`);
  }
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  if (!(total > 0)) throw new ZsdError('usage', 'the rationale weights of a step sum to 0; they must sum to a positive number');
  return weights.map((weight) => weight / total);
}

/** Non-padding input tokens plus label tokens the loss counts. */
export function batchTokens(batch: EncodedBatch): number {
  let tokens = 0;
  for (const row of batch.attentionMask) for (const mask of row) tokens += mask;
  for (const row of batch.labels) for (const label of row) if (label !== IGNORE_INDEX) tokens++;
  return tokens;
}

export function labelTokens(batch: EncodedBatch): number {
  let tokens = 0;
  for (const row of batch.labels) for (const label of row) if (label !== IGNORE_INDEX) tokens++;
  return tokens;
}

export interface MicroStepLoss {
  /** the step's loss (unscaled): sum of coefficient * batch loss */
  loss: number;
  labelLoss: number;
  /** the weighted rationale term, sum_s w_s loss_s (normalised weights); null without explain batches */
  rationaleLoss: number | null;
  /** per explain batch's source (or "explain"), its mean token cross-entropy */
  rationaleLosses: Record<string, number>;
  /** non-padding input tokens plus counted label tokens */
  tokens: number;
}

/** What a micro-step reports, from each batch's mean loss (0 for a batch without label tokens); every engine uses it. */
export function microStepLoss(
  batches: readonly EncodedBatch[],
  coefficients: readonly number[],
  shares: readonly number[] | null,
  batchLosses: readonly number[],
): MicroStepLoss {
  const result: MicroStepLoss = { loss: 0, labelLoss: 0, rationaleLoss: shares === null ? null : 0, rationaleLosses: {}, tokens: 0 };
  for (const [index, batch] of batches.entries()) {
    const batchLoss = batchLosses[index];
    result.tokens += batchTokens(batch);
    result.loss += coefficients[index] * batchLoss;
    if (batch.task === 'predict') result.labelLoss = batchLoss;
    else {
      result.rationaleLosses[batch.source ?? `explain-${index}`] = batchLoss;
      result.rationaleLoss = (result.rationaleLoss as number) + (shares as number[])[index] * batchLoss;
    }
  }
  return result;
}
