// jest environment for tests that call native addons returning typed arrays (onnxruntime-node): jest runs each
// test file in its own realm, whose Float32Array is not the addon's, so onnxruntime's `data instanceof
// Float32Array` checks fail on the arrays it creates itself. The test realm gets the host's typed-array classes.
const { TestEnvironment } = require('jest-environment-node');

const TYPED_ARRAYS = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class HostTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED_ARRAYS) this.global[name] = globalThis[name];
  }
}

module.exports = HostTypedArraysEnvironment;
