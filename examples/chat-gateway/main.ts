// `npm run example:gateway`: the example chat gateway on ws://127.0.0.1:8080/?token=<auth token>,
// against the service `npm start` runs (127.0.0.1:50051). AUTH_SERVICE, API_KEY and PORT override.
import { startGateway } from './gateway';

startGateway({
  service: process.env.AUTH_SERVICE ?? '127.0.0.1:50051',
  apiKey: process.env.API_KEY || undefined,
  port: Number(process.env.PORT ?? 8080),
}).then(
  (gateway) => {
    console.log(`chat gateway on ws://127.0.0.1:${gateway.port}/?token=<auth token>`);
    const stop = () => void gateway.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  (error: unknown) => {
    console.error(`chat gateway could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
