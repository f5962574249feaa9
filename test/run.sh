#!/usr/bin/env bash
# `npm test`: the one test command. On a fresh clone (as root) it installs what it needs, runs the
# unit and protocol tests, the end-to-end tests of the real gateway process, brings the lab up for
# the integration tests, tears it down, and ends with the plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

# Dependencies: npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
fi
# The typed client's compiled package (clients/typescript/dist): npm ci builds it (prepare), but a
# checkout newer than the last install must not test an old build; tsc takes a few seconds.
npm run -s client:build || { echo "client build failed"; echo "0 passed, 1 failed"; exit 1; }
# The web console's bundle (ui/dist), likewise built by npm ci (prepare) and npm start (prestart).
npm run -s ui:build || { echo "ui build failed"; echo "0 passed, 1 failed"; exit 1; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
# zsh: the unit test of `oms completion zsh` loads the generated script in a real zsh.
command -v zsh >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends zsh >/dev/null; }
# Debian's ifupdown: the lab test of save_network_config brings the saved files up with it in a
# fresh namespace. Its install starts nothing (no networking service is run).
command -v ifup >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends ifupdown >/dev/null; }
# Debian's kernel (/boot/vmlinuz-*, with its modules): the KVM runtime-facts test boots it with a
# busybox initramfs built at test time, so a guest really takes a DHCP lease (kvm-nics.test.ts).
ls /boot/vmlinuz-* >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends linux-image-amd64 >/dev/null; }

# promtool (Prometheus's own text-format parser and linter) for the /metrics test: unpacked from
# Debian's prometheus package into test/.cache, never installed, so no Prometheus daemon starts.
if [ ! -x test/.cache/prometheus/usr/bin/promtool ] && ! command -v promtool >/dev/null; then
  deb_dir=$(mktemp -d)
  (cd "$deb_dir" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null 2>&1; }; }) &&
    mkdir -p test/.cache/prometheus && dpkg-deb -x "$deb_dir"/prometheus_*.deb test/.cache/prometheus
  rm -rf "$deb_dir"
fi

counts=$(mktemp)
figures=$(mktemp)
export OMS_TEST_COUNTS="$counts"
export OMS_TEST_FIGURES="$figures"
status=0
mocha=(node node_modules/mocha/bin/mocha.js --node-option import=tsx --reporter test/reporter.cjs --exit)

phase() {
  local name=$1; shift
  echo "=== $name"
  local before; before=$(wc -l < "$counts")
  "${mocha[@]}" "$@" || status=1
  # A phase that died before its reporter ran still counts as a failure.
  [ "$(wc -l < "$counts")" -gt "$before" ] || { echo "0 1 0" >> "$counts"; status=1; }
}

phase "unit and protocol" --config test/mocharc.unit.json
phase "end to end" --timeout 60000 'test/e2e/**/*.test.ts'

if [ -d test/integration ]; then
  echo "=== lab up"
  trap 'bash test/lab/lab.sh down >/dev/null 2>&1 || true' EXIT
  if bash test/lab/lab.sh up --nodes "${OMS_LAB_NODES:-3}" >/dev/null; then
    phase "integration (lab)" --timeout 180000 'test/integration/**/*.test.ts'
    phase "reliability and security (lab)" --timeout 900000 'test/security/**/*.test.ts'
    # Consoles in a browser, while the lab is still up: Debian's chromium, never a downloaded one.
    if [ -d test/browser ]; then
      [ -x /usr/bin/chromium ] || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
      phase "browser (headless chromium)" --timeout 180000 'test/browser/**/*.test.ts'
    fi
  else
    echo "lab did not come up"; echo "0 1 0" >> "$counts"; status=1
  fi
  echo "=== lab down"
  bash test/lab/lab.sh down || status=1
  trap - EXIT
fi

if [ -s "$figures" ]; then
  echo "=== figures"
  cat "$figures"
fi
rm -f "$figures"
awk '{p+=$1; f+=$2; s+=$3} END {printf "%d passed, %d failed", p, f; if (s) printf ", %d skipped", s; printf "\n"}' "$counts"
rm -f "$counts"
exit $status
