// The runner's own services, loaded after the tenant's app has started (see
// runner.mjs): the channel to napbox (channel/), the messages and their
// provider (messages/, providers/) and the busy leases (leases.mjs). Loading
// them costs `ws` and a dozen modules, which is why they are kept off a cold
// start's critical path.

import { channelServer } from './channel/channel-server.mjs';
import { Leases } from './leases.mjs';
import { JobBoard } from './messages/job-board.mjs';
import { MAX_REPLY_BYTES, messageProcessor } from './messages/process-message.mjs';
import { createProvider } from './providers/index.mjs';

/**
 * Starts the services for `config`. Returns what the control server needs
 * (`handle` for /lease and /release, `upgrade` for the channel) and `close`,
 * which ends channel connections and running work.
 */
export function startServices({ config, log }) {
  for (const problem of [config.channelProblem, config.providerProblem, config.heartbeatProblem]) {
    if (problem) log('channel setting problem', { problem });
  }
  const provider = config.provider
    ? createProvider(config.provider, { childEnv: config.childEnv, openaiApiKey: config.openaiApiKey, maxReplyBytes: MAX_REPLY_BYTES })
    : null;
  const board = new JobBoard({
    run: messageProcessor({ provider, providerProblem: config.providerProblem, workspace: config.workspace, log }),
  });
  let channel;
  const leases = new Leases({ broadcast: (frame) => channel?.broadcast(frame) ?? 0 });
  channel = channelServer({ config, board, log, greeting: () => leases.framesForNewConnection() });
  return {
    handle: (req, res, path) => leases.handle(req, res, path),
    upgrade: channel.upgrade,
    close: async () => {
      board.abortAll();
      await channel.close();
    },
  };
}
