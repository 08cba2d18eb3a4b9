# The agent image's entrypoint: starts a tenant's own app before Node.js
# starts the runner, so a cold start does not wait for the runner's boot
# (about 50 ms) before the app's own. napbox passes the app's argv
# shell-quoted in NAPBOX_APP_SH (besides NAPBOX_APP_COMMAND, its JSON form,
# which the runner contract names). The app gets the container's
# environment without the runner's secrets (config.mjs SECRET_VARIABLES: the
# list below is checked against it by a test). `exec` keeps the process: the
# runner is the app's parent, adopts it by NAPBOX_APP_PID, watches it, and
# ends with its status.
if [ -n "${NAPBOX_APP_SH:-}" ]; then
  eval "set -- $NAPBOX_APP_SH"
  env -u NAPBOX_CHANNEL_KEY -u NAPBOX_OPENAI_API_KEY -u NAPBOX_APP_SH -- "$@" &
  NAPBOX_APP_PID=$!
  export NAPBOX_APP_PID
  unset NAPBOX_APP_SH
  # The container has one CPU by default: the app's start comes first, the runner's takes what it leaves
  # (napbox sees the app ready at its own port, and opens the channel once the runner listens).
  exec nice -n 10 node /opt/napbox/runner/runner.mjs
fi
exec node /opt/napbox/runner/runner.mjs
