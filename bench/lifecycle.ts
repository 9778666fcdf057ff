// How a benchmark script runs: main(), then stop everything it started — at the end, after an
// error (exit 1), or on SIGINT/SIGTERM (exit 130), whichever comes first, once.

/** Run `main`; `stop` ends every process and removes every folder it started. */
export function runBench(main: () => Promise<void>, stop: () => Promise<void>): void {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      if (stopping) return;
      stopping = true;
      console.error(`\n${sig}: stopping everything`);
      void stop().finally(() => process.exit(130));
    });
  }
  main().then(stop, async (err) => {
    if (stopping) return; // interrupted: the signal handler stops everything and exits
    console.error(err);
    await stop();
    process.exit(1);
  });
}
