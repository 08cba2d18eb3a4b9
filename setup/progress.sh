# Sourced by set-up's scripts. run_step runs one long step with its output in
# a log file, and says every few seconds that it is still working, so a first
# `npm start` (npm ci builds better-sqlite3 for about two minutes) is never
# silent. On failure it names the log and shows its last lines; it returns the
# step's own exit code either way.
# Usage: run_step <name> <log file> <program> [args...]

run_step() {
  local name=$1 log=$2
  shift 2
  local every=${NAPBOX_SETUP_PROGRESS_SECONDS:-5} # a seam for its test; set-up uses 5 s
  local started next code=0 pid
  started=$(date +%s)
  next=$((started + every))
  : >"$log"
  "$@" >>"$log" 2>&1 &
  pid=$!
  # A background job of a script ignores Ctrl-C: pass an interrupt on to the step, and end it with the script.
  trap 'kill "$pid" 2>/dev/null; exit 130' INT
  trap 'kill "$pid" 2>/dev/null; exit 143' TERM
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.2
    if [ "$(date +%s)" -ge "$next" ] && kill -0 "$pid" 2>/dev/null; then
      echo "setup: $name: still working ($(($(date +%s) - started)) s; output in $log)"
      next=$((next + every))
    fi
  done
  wait "$pid" || code=$?
  trap - INT TERM
  if [ "$code" -ne 0 ]; then
    echo "setup: $name failed (exit $code); its output is in $log, ending with:" >&2
    tail -n 20 "$log" >&2
  fi
  return "$code"
}
