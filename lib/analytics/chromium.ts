import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { ZsdError } from '../core/errors';

/** Debian's chromium (apt-get install chromium); ZSD_CHROMIUM overrides it. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet headless Chromium that reaches nothing on the network by itself. */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface HeadlessChromium {
  context: BrowserContext;
  /** Closes the browser and removes its profile directory. */
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile in a temporary directory (removed by close()). */
export async function launchChromium(executablePath = process.env.ZSD_CHROMIUM ?? DEFAULT_CHROMIUM): Promise<HeadlessChromium> {
  if (!fs.existsSync(executablePath)) {
    throw new ZsdError(
      'not-found',
      `Chromium not found at ${executablePath}: install it with \`apt-get install -y --no-install-recommends chromium\` or set ZSD_CHROMIUM`,
    );
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'zsd-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: [...CHROMIUM_FLAGS] });
  } catch (error) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw new ZsdError('internal', `Chromium at ${executablePath} did not start: ${(error as Error).message}`);
  }
  return {
    context,
    async close() {
      try {
        await context.close();
      } finally {
        fs.rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}
