// Process entry: configuration, logger, the app, and signal handling.
import { tracing } from './observability/tracing'; // first: it instruments modules loaded after it
import { ConfigError, loadConfig } from './config';
import { createLogger } from './observability/logger';
import { startApp } from './app';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger(config.LOG_LEVEL);
  const app = await startApp(config, log);

  const shutdown = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down');
    const stopped = async () => {
      await app.stop();
      await tracing?.shutdown();
    };
    stopped().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // A closed terminal: stop as cleanly, or the embedded mongod would be left running.
  process.once('SIGHUP', shutdown);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`auth-token-service failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
