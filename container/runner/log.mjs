// The runner's log: one JSON object per line on stdout, with the time and the
// tenant. Constant messages; what varies goes in fields. Never a secret, a
// token or a message's text.

export function createLog(tenant) {
  return (msg, fields = {}) => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, tenant, ...fields })}\n`);
  };
}
