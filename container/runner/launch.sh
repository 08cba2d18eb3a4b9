# The agent image's entrypoint: starts a tenant's own app before Node.js
# starts the runner, so a cold start does not wait for the runner's boot
# (about 50 ms of CPU) before the app's own. napbox passes the app's argv
# shell-quoted in NAPBOX_APP_SH (besides NAPBOX_APP_COMMAND, its JSON form,
# which the runner contract names). The app gets the container's
# environment without the runner's secrets (config.mjs SECRET_VARIABLES: the
# list below is checked against it by a test). `exec` keeps the process: the
# runner is the app's parent, adopts it by NAPBOX_APP_PID, watches it, and
# ends with its status.

# Whether something listens on TCP port $1 (hex) in this container: builtins only, no process per look.
listening() {
  for table in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$table" ] || continue
    while read -r _ local _ state _; do
      case "$local" in *":$1") [ "$state" = 0A ] && return 0 ;; esac
    done <"$table"
  done
  return 1
}

# Sets $now to the machine's uptime in hundredths of a second, from /proc/uptime ("12345.67 ...").
clock() {
  read -r up _ </proc/uptime
  now="${up%.*}${up#*.}"
}

if [ -n "${NAPBOX_APP_SH:-}" ]; then
  eval "set -- $NAPBOX_APP_SH"
  env -u NAPBOX_CHANNEL_KEY -u NAPBOX_OPENAI_API_KEY -u NAPBOX_APP_SH -- "$@" &
  NAPBOX_APP_PID=$!
  export NAPBOX_APP_PID
  unset NAPBOX_APP_SH
  # The container has one CPU by default, and two processes booting side by
  # side halve it: the runner waits until the app listens on $PORT (napbox
  # sees it ready there), until the app has exited, or about 2 s at most.
  port=$(printf '%04X' "${PORT:-8080}")
  clock
  deadline=$((now + 200))
  while clock && [ "$now" -lt "$deadline" ] && kill -0 "$NAPBOX_APP_PID" 2>/dev/null && ! listening "$port"; do
    sleep 0.01
  done
  if ! kill -0 "$NAPBOX_APP_PID" 2>/dev/null; then
    # It ended before it listened (the shell has its status): the container ends with it, as the runner would.
    wait "$NAPBOX_APP_PID"
    code=$?
    printf '{"time":"%s","msg":"tenant app exited","tenant":"%s","code":%d}\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "${NAPBOX_TENANT:-unknown}" "$code"
    exit "$code"
  fi
  # From here on the app comes first: the runner takes what the app leaves.
  exec nice -n 10 node /opt/napbox/runner/runner.mjs
fi
exec node /opt/napbox/runner/runner.mjs
