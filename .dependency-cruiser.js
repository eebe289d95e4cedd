// The import boundaries of lib/ (`npm run check:imports`, part of `npm test`): the stage order and which stage owns
// which heavy dependency, as /work/shared/docs/style.md and the README's layout describe them.
// Tests (*.test.ts) and test support (any test-support/ folder) may import anything; nothing else imports them.

// The pipeline's stages in the order data flows: a stage imports only earlier stages (and core, the first).
const STAGES = ['core', 'data', 'prompts', 'teacher', 'parse', 'evaluate', 'annotate', 'student', 'serve', 'opro', 'tracking', 'analytics', 'pipeline', 'cli'];
// Folders of lib/ that are not stages: benchmarks (may import any stage; nothing imports them) and test support.
const OTHER_FOLDERS = ['bench', 'test-support'];

const TEST_FILES = ['\\.test\\.ts$', '(^|/)test-support/'];

/** A rule's path pattern for the files of some lib/ folders. */
const folders = (names) => `^lib/(${names.join('|')})/`;

const stageOrder = STAGES.slice(0, -1).map((stage, index) => ({
  name: `stage-order-${stage}`,
  comment: `lib/${stage} imports only earlier stages (${STAGES.slice(0, index).join(', ') || 'none'}), not ${STAGES.slice(index + 1).join(', ')}`,
  severity: 'error',
  from: { path: folders([stage]), pathNot: TEST_FILES },
  to: { path: folders(STAGES.slice(index + 1)) },
}));

/** A package only one stage may import; `exceptions` are files allowed anyway, each with its reason. */
const ownedPackage = (name, packages, owner, exceptions = []) => ({
  name,
  comment: `only lib/${owner} imports ${packages.join(', ')}`,
  severity: 'error',
  from: { pathNot: [folders([owner]), ...TEST_FILES, ...exceptions] },
  to: { path: `(^|/)node_modules/(${packages.join('|')})/` },
});

module.exports = {
  forbidden: [
    ...stageOrder,
    {
      name: 'unknown-lib-folder',
      comment: `every folder of lib/ is a stage placed in the order (${STAGES.join(' → ')}) or one of ${OTHER_FOLDERS.join(', ')}: add a new one to .dependency-cruiser.js`,
      severity: 'error',
      from: { path: '^lib/', pathNot: folders([...STAGES, ...OTHER_FOLDERS]) },
      to: {},
    },
    {
      name: 'nothing-imports-bench',
      comment: 'lib/bench measures the stages; no stage or CLI command depends on it',
      severity: 'error',
      from: { pathNot: '^lib/bench/' },
      to: { path: '^lib/bench/' },
    },
    {
      name: 'test-code-stays-out-of-the-product',
      comment: 'test support and test files are not built (tsconfig.build.json): shipped code must not import them',
      severity: 'error',
      // lib/bench is not built either (it runs from source, `npm run bench`) and drives the test doubles' servers.
      from: { pathNot: [...TEST_FILES, '^lib/bench/'] },
      to: { path: TEST_FILES },
    },
    ownedPackage('only-teacher-imports-openai', ['openai'], 'teacher'),
    ownedPackage('only-student-imports-tensorflow', ['@tensorflow/[^/]+'], 'student', [
      // Allowed (the one exception today): the train-step benchmark's single-thread engine builds its batch tensors and
      // takes tf.variableGrads itself, as the student's LocalGradientEngine does, to time that path beside the workers.
      '^lib/bench/train-step\\.ts$',
    ]),
    ownedPackage('only-analytics-imports-dataframes-and-plotly', ['arquero', 'plotly\\.js-dist-min'], 'analytics'),
  ],
  options: {
    // Modules are resolved as TypeScript resolves them; packages are not cruised themselves.
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
