import { AgentError } from '../../agent/errors.js';

/** The coded error a call throws (fails the test when it throws nothing or something else). */
export function refusal(run: () => unknown): AgentError {
  try {
    run();
  } catch (error) {
    if (error instanceof AgentError) return error;
    throw error;
  }
  throw new Error('expected a coded error');
}
