// Starts one real mongod for the test run, the same way the embedded default does.
import type { TestProject } from 'vitest/node';
import { startTestMongod } from './mongod';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
  }
}

export default async function setup(project: TestProject) {
  // failCommand fail points let tests hold a call at a chosen command.
  const mongod = await startTestMongod({ name: 'test-mongod', testCommands: true });
  project.provide('mongoUri', mongod.uri);
  return () => mongod.destroy();
}
