// Tests live beside the code (lib/<stage>/x.test.ts) and read real data from the data root (ZSD_DATA, default ../shared/data).
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/lib'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  transformIgnorePatterns: ['/node_modules/(?!(p-limit|yocto-queue|arquero|@uwdata)/)'],
  testTimeout: 60000,
};
