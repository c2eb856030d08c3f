import { runApp } from './app.js';

// Node exits by itself once the broker has stopped (startMessaging removes its signal handlers
// and the connections are closed); only the exit status is set here.
try {
  await runApp();
} catch (error) {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exitCode = 1;
}
