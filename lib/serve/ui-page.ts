/**
 * The page of `zsd serve --ui`: a user types a problem; the student answers in the browser (lib/student/
 * browser-student.ts on TensorFlow.js' WebAssembly backend, weights fetched from this server), and the server's own
 * answer to the same input is shown beside it. Elements carry ids and data attributes the Playwright test reads.
 */
export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>zsd student</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  textarea { width: 100%; min-height: 6rem; font: inherit; }
  .answers { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; margin-top: 1rem; }
  .answers section { border: 1px solid #ccc; border-radius: 6px; padding: 0.75rem; }
  .answers h2 { font-size: 1rem; margin: 0 0 0.5rem; }
  pre { white-space: pre-wrap; margin: 0; }
  #status { color: #666; }
</style>
</head>
<body>
<h1>zsd student <small id="model-name"></small></h1>
<p id="status" data-state="loading">Loading the student into this page…</p>
<form id="ask">
  <label for="input">Problem</label>
  <textarea id="input" placeholder="Jack has 3 apples and buys 5 more. How many apples does he have?"></textarea>
  <p>
    <label><input type="checkbox" id="explain"> explain (rationale too)</label>
    <label id="key-label" hidden>API key <input type="password" id="api-key"></label>
    <button type="submit" id="submit" disabled>Answer</button>
  </p>
</form>
<div class="answers" id="answers" data-answered="0">
  <section><h2>In this browser (<span id="browser-backend">…</span>)</h2><pre id="browser-answer"></pre><p><small id="browser-time"></small></p></section>
  <section><h2>From the server</h2><pre id="server-answer"></pre><p><small id="server-time"></small></p></section>
</div>
<script>
(async () => {
  const status = document.getElementById('status');
  const fail = (error) => { status.textContent = 'Failed: ' + (error && error.message ? error.message : error); status.dataset.state = 'failed'; };
  try {
    const settings = await (await fetch('/ui/settings.json')).json();
    document.getElementById('model-name').textContent = settings.model;
    document.getElementById('key-label').hidden = !settings.apiKeyRequired;
    await new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = '/ui/student.js';
      script.onload = resolve;
      script.onerror = () => reject(new Error('could not load /ui/student.js'));
      document.head.appendChild(script);
    });
    const get = async (name, kind) => {
      const response = await fetch('/ui/model/' + name);
      if (response.status === 404 && name === 'preprocessing.json') return null;
      if (!response.ok) throw new Error('GET /ui/model/' + name + ': ' + response.status);
      return kind === 'bytes' ? response.arrayBuffer() : response.json();
    };
    const [config, weights, tokenizer, preprocessing] = await Promise.all([get('config.json'), get('model.safetensors', 'bytes'), get('tokenizer.json'), get('preprocessing.json')]);
    const student = await globalThis.zsdBrowserStudent.BrowserStudent.load({ config, weights, tokenizer, preprocessing }, { wasmPath: '/ui/wasm/', maxInputTokens: settings.maxInputTokens });
    document.getElementById('browser-backend').textContent = student.backend.description;
    document.getElementById('explain').disabled = !settings.explain;
    status.textContent = 'Ready: the student runs in this page.';
    status.dataset.state = 'ready';
    const submit = document.getElementById('submit');
    submit.disabled = false;
    const show = (answer) => (answer.rationale === null ? answer.label : answer.rationale + '\\n\\nSo the answer is ' + answer.label);
    document.getElementById('ask').addEventListener('submit', async (event) => {
      event.preventDefault();
      const input = document.getElementById('input').value;
      const explain = document.getElementById('explain').checked;
      const answers = document.getElementById('answers');
      submit.disabled = true;
      try {
        let started = performance.now();
        const local = student.answer(input, { maxNewTokens: settings.maxNewTokens, explain });
        document.getElementById('browser-answer').textContent = show(local);
        document.getElementById('browser-answer').dataset.label = local.label;
        document.getElementById('browser-time').textContent = Math.round(performance.now() - started) + ' ms';
        started = performance.now();
        const headers = { 'content-type': 'application/json' };
        const key = document.getElementById('api-key').value;
        if (key) headers.authorization = 'Bearer ' + key;
        const response = await fetch('/v1/chat/completions', { method: 'POST', headers, body: JSON.stringify({ model: settings.model, messages: [{ role: 'user', content: input }], explain }) });
        const body = await response.json();
        const served = body.choices ? body.choices[0].zsd : null;
        document.getElementById('server-answer').textContent = served ? show(served) : 'Error: ' + body.error.message;
        document.getElementById('server-answer').dataset.label = served ? served.label : '';
        document.getElementById('server-time').textContent = Math.round(performance.now() - started) + ' ms';
      } catch (error) {
        document.getElementById('browser-answer').textContent = 'Error: ' + error.message;
      } finally {
        answers.dataset.answered = String(Number(answers.dataset.answered) + 1);
        submit.disabled = false;
      }
    });
  } catch (error) {
    fail(error);
  }
})();
</script>
</body>
</html>
`;
