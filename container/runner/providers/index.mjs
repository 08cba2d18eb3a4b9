// Builds the tenant's provider from its validated config. A provider is
// `{ kind, run(request) }`: `run` gets `{ id, session, text, history,
// attempt, cwd, signal, onProgress }`, resolves to the full reply text and
// rejects with a ProviderError; `onProgress(chunk)` may be called any number
// of times before it settles.

import { commandProvider } from './command.mjs';
import { echoProvider } from './echo.mjs';
import { openaiProvider } from './openai.mjs';

export function createProvider(config, { childEnv, openaiApiKey, maxReplyBytes }) {
  switch (config.kind) {
    case 'echo':
      return echoProvider();
    case 'command':
      return commandProvider(config, { childEnv, maxReplyBytes });
    case 'openai':
      return openaiProvider(config, { apiKey: openaiApiKey });
    default:
      throw new Error(`unknown provider kind ${config.kind}`);
  }
}
