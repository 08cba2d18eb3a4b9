// The echo provider: deterministic, for tests and for a tenant with no agent
// yet. One progress chunk, then the same text as the reply.

export function echoProvider() {
  return {
    kind: 'echo',
    async run({ text, onProgress }) {
      const reply = `echo: ${text}`;
      onProgress(reply);
      return reply;
    },
  };
}
