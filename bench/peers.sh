#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet, as the lab installs
# its own (test/lab/lab.sh ensure_packages): apt-get update only when something is missing, and a
# policy-rc.d answering 101 so no package script starts a service on this machine. Progress and
# apt's errors go to stderr, which bench/peers.ts shows when the install fails.
set -uo pipefail

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "bench: installing Debian packages: ${missing[*]}" >&2

policy=/usr/sbin/policy-rc.d
saved=""
if [[ -e "$policy" ]] && ! grep -qx 'exit 101' "$policy"; then
  saved="$(mktemp /usr/sbin/policy-rc.d.oms-bench.XXXXXX)"
  mv "$policy" "$saved"
fi
made_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# OMS bench: no service starts from package scripts\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=1
fi
rc=0
{
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=300 \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
} </dev/null >&2 || rc=$?
if [[ "$made_policy" -eq 1 ]]; then rm -f "$policy"; fi
if [[ -n "$saved" ]]; then mv "$saved" "$policy"; fi
[[ "$rc" -eq 0 ]] || { echo "bench: apt-get failed ($rc) installing ${missing[*]}" >&2; exit "$rc"; }
