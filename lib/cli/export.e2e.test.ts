/** @jest-environment ./lib/test-support/host-typed-arrays-environment.js */
// `zsd export` as a user runs it (the built CLI), then the exported student answered by transformers.js and by the
// README's Node example, against `zsd predict` on the same checkpoint: identical predictions.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline, type Text2TextGenerationPipeline } from '@huggingface/transformers';
import { DATA_ROOT, REPO_ROOT, runCli, temporaryDirectory } from '../test-support/fixtures';
import { initBackend } from '../student/backend';
import { PREPROCESSING_FILE } from '../student/checkpoints';
import { presetConfig } from '../student/t5-config';
import { T5Model } from '../student/t5-model';
import { saveT5Model } from '../student/t5-weights';

const README_INPUT = 'Jack has 3 apples and buys 5 more. How many apples does he have?';

/** The README's Node example: the first ```js block of its "Export to ONNX / transformers.js" section. */
function readmeNodeExample(): string {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Export to ONNX / transformers.js'));
  const block = /```js\n([\s\S]*?)```/.exec(section);
  if (block === null) throw new Error('README.md has no ```js block in its export section');
  return block[1];
}

let workDirectory: string;
let checkpoint: string;
let out: string;
let inputs: string[];
/** zsd predict's answers to `inputs`, from one run of the command */
let predictions: string[];

beforeAll(async () => {
  await initBackend();
  workDirectory = temporaryDirectory('zsd-export-cli-');
  // A small random student saved by zsd, with the preprocessing.json training writes (task prefix "predict: ").
  checkpoint = path.join(workDirectory, 'checkpoint');
  const config = presetConfig('zsd-scratch', { dModel: 32, dKv: 8, numHeads: 4, dFf: 64, numLayers: 2, dropoutRate: 0 });
  const model = T5Model.randomInit(config, 2024);
  saveT5Model(model, checkpoint);
  model.dispose();
  fs.writeFileSync(
    path.join(checkpoint, PREPROCESSING_FILE),
    JSON.stringify({ formatVersion: 1, task: 'svamp', inputPrefix: 'predict: ', numberMapping: false }),
  );
  out = path.join(workDirectory, 'student-onnx');
  const exported = runCli(['export', '--model', checkpoint, '--format', 'onnx', '--out', out]);
  expect(exported.stderr).toBe('');
  expect(exported.status).toBe(0);
  expect(exported.stdout).toContain('onnx/decoder_model_merged.onnx');
  expect(exported.stdout).toContain('inputs get the task prefix "predict: "');

  const lines = fs
    .readFileSync(path.join(DATA_ROOT, 'datasets', 'svamp', 'svamp_test.json'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, 50);
  inputs = [...lines.map((line) => (JSON.parse(line) as { input: string }).input), README_INPUT];
  const inputFile = path.join(workDirectory, 'inputs.jsonl');
  fs.writeFileSync(inputFile, inputs.map((input) => `${JSON.stringify({ input })}\n`).join(''));
  const predicted = runCli(['predict', '--model', checkpoint, '--input', inputFile, '--max-new-tokens', '64']);
  expect(predicted.status).toBe(0);
  predictions = predicted.stdout
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { prediction: string }).prediction);
  expect(predictions).toHaveLength(inputs.length);
});

// One batch of 50: this random student never ends an answer early, so transformers.js 4.3 going on past a sequence's
// eos in a batch (README) cannot show here.
test('transformers.js answers 50 svamp test inputs as zsd predict does', async () => {
  const generator = (await pipeline('text2text-generation', out, { local_files_only: true })) as Text2TextGenerationPipeline;
  try {
    const answers = (await generator(inputs.slice(0, 50), { max_new_tokens: 64 })) as { generated_text: string }[];
    const actual = answers.map((answer) => answer.generated_text);
    expect(actual.filter((answer, index) => answer !== predictions[index])).toEqual([]);
    expect(new Set(actual).size).toBeGreaterThan(1); // a model that says one thing to everything would prove little
  } finally {
    await generator.dispose();
  }
});

test("the README's Node example runs the exported student and prints zsd predict's answer", () => {
  const example = path.join(workDirectory, 'example.mjs');
  fs.writeFileSync(example, readmeNodeExample());
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(workDirectory, 'node_modules'));
  const ran = spawnSync(process.execPath, [example], { cwd: workDirectory, encoding: 'utf8', timeout: 60_000 });
  expect(ran.stderr).toBe('');
  expect(ran.status).toBe(0);
  expect(readmeNodeExample()).toContain(`'${README_INPUT}'`);
  expect(ran.stdout).toBe(`${predictions[inputs.indexOf(README_INPUT)]}\n`);
});

test('an unsupported configuration fails with the field named, and nothing written', () => {
  const bad = path.join(workDirectory, 'bad-checkpoint');
  fs.mkdirSync(bad);
  fs.symlinkSync(path.join(checkpoint, 'model.safetensors'), path.join(bad, 'model.safetensors'));
  const config = JSON.parse(fs.readFileSync(path.join(checkpoint, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ ...config, is_encoder_decoder: false }));
  const target = path.join(workDirectory, 'not-written');
  const result = runCli(['export', '--model', bad, '--format', 'onnx', '--out', target]);
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(/config\.json, key is_encoder_decoder: is false/);
  expect(fs.existsSync(target)).toBe(false);
});
