# Shared by the end-to-end scripts: check NAME EXPECTED_STATUS PATTERN -- command...
# runs the command, and counts a failure in $fails unless the status and an output line match.
fails=0
check() {
  local name="$1" want="$2" pattern="$3"; shift 4
  local out status
  out="$("$@" 2>&1)"; status=$?
  if [ "$status" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: status $status (want $want), output:"; echo "$out" | head -20; fails=$((fails + 1))
  else
    echo "ok   $name"
  fi
}
