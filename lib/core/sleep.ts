/**
 * A sleep that an AbortSignal cuts short (Ctrl-C must never wait out a back-off or a Retry-After).
 * Resolves (never rejects) at the end of the wait or as soon as the signal aborts; callers check `signal.aborted`.
 */
export function abortableSleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || milliseconds <= 0) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, milliseconds);
    signal?.addEventListener('abort', done, { once: true });
  });
}
