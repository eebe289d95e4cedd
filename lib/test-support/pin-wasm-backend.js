// jest setup file of the 'student on wasm' project (jest.config.js): initBackend() and the CLI processes the tests
// start read ZSD_BACKEND, so this pins the whole test file to the WebAssembly backend.
process.env.ZSD_BACKEND = 'wasm';
