#!/usr/bin/env bash
# OMS test lab: N virtualization "nodes" on this one machine, each a set of Linux namespaces
# (net + uts + mount) with its own sshd, and on full nodes its own libvirtd, LXC and LVM.
#
#   lab.sh up [--nodes N] [--light] [--full K] [--authorized-key FILE]
#   lab.sh down
#   LAB_INSTANCE=s lab.sh up|down|status|...   a second, independent lab (see "Instances" below)
#   lab.sh status
#   lab.sh sshd-stop NODE | sshd-start NODE | rotate-hostkey NODE   (fault-injection helpers)
#   lab.sh exec NODE -- ARGV...                                       (run inside a node)
#   lab.sh netinst-tree      (re)builds the install tree in /var/lib/oms-lab/netinst if missing
#
# STDOUT carries only the lab JSON (up, status, rotate-hostkey); everything else goes to STDERR.
# See README.md beside this file for what a node is and how tests use it.
set -euo pipefail

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE_DIR=/var/lib/oms-node           # fixed path inside every node where its own files appear
DAEMON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root)

log() { printf '[lab%s] %s\n' "${LAB_INSTANCE:+ $LAB_INSTANCE}" "$*" >&2; }
die() { printf '[lab%s] error: %s\n' "${LAB_INSTANCE:+ $LAB_INSTANCE}" "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Instances. The default lab (LAB_INSTANCE unset or empty) is the shared one of every test:
# omsnodeI on omslab0, 10.213.7.0/24, /var/lib/oms-lab, test/lab/.state. LAB_INSTANCE=NAME (a
# lower-case letter and up to three letters or digits) makes another lab beside it that shares
# nothing with it: nodes omsNAMEnI, bridge omsNAMEbr0, host veths omsNAMEvI, state in
# test/lab/.state-NAME and /var/lib/oms-lab-NAME, namespace files in /run/oms-lab-NAME, cgroups
# oms-lab-NAME, and a /20 of its own (LAB_SUBNET=A.B.C.0/20 to choose; default one of the sixteen
# /20s of 10.214.0.0/16, picked by the name) with the host at .1 and node i at the (10+i)th
# address, so up to 1000 nodes. Its up and down touch nothing of another instance.
# ---------------------------------------------------------------------------------------------
LAB_INSTANCE="${LAB_INSTANCE:-}"
ip4_int() { local IFS=.; set -- $1; printf '%s' "$(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 ))"; }
int_ip4() { printf '%s.%s.%s.%s' "$(( ($1 >> 24) & 255 ))" "$(( ($1 >> 16) & 255 ))" "$(( ($1 >> 8) & 255 ))" "$(( $1 & 255 ))"; }
if [[ -z "$LAB_INSTANCE" ]]; then
  STATE_DIR="$LAB_DIR/.state"          # lab key, lab.json, known_hosts, record of what we created
  LAB_ROOT=/var/lib/oms-lab            # per-node state dirs, visible from host and from the node
  NS_ROOT=/run/oms-lab                 # private tmpfs holding the persisted uts/mnt namespace files
  BRIDGE=omslab0
  NET=10.213.7                         # lab /24; host .1, node i at .(10+i)
  PREFIX_LEN=24
  HOST_ADDR="$NET.1"
  NODE_PREFIX=omsnode
  VETH_PREFIX=omslabv                  # host end of node i's veth: omslabv<i>
  CG_NAME=oms-lab                      # per-node cgroups live under <our cgroup>/oms-lab/<node>
  MAX_NODES=50                         # keeps node-local subnets 10.213.(100+i) and (200+i) valid
else
  [[ "$LAB_INSTANCE" =~ ^[a-z][a-z0-9]{0,3}$ ]] ||
    die "LAB_INSTANCE must be a lower-case letter and up to 3 letters or digits, not '$LAB_INSTANCE'"
  STATE_DIR="$LAB_DIR/.state-$LAB_INSTANCE"
  LAB_ROOT="/var/lib/oms-lab-$LAB_INSTANCE"
  NS_ROOT="/run/oms-lab-$LAB_INSTANCE"
  BRIDGE="oms${LAB_INSTANCE}br0"
  NODE_PREFIX="oms${LAB_INSTANCE}n"
  VETH_PREFIX="oms${LAB_INSTANCE}v"
  CG_NAME="oms-lab-$LAB_INSTANCE"
  MAX_NODES=1000
  PREFIX_LEN=20
  if [[ -n "${LAB_SUBNET:-}" ]]; then
    [[ "$LAB_SUBNET" =~ ^(10|172|192)\.[0-9]{1,3}\.[0-9]{1,3}\.0/20$ ]] || die "LAB_SUBNET must be a private A.B.C.0/20, not '$LAB_SUBNET'"
    SUBNET_BASE="$(ip4_int "${LAB_SUBNET%/20}")"
    (( (SUBNET_BASE & 4095) == 0 )) || die "LAB_SUBNET $LAB_SUBNET is not aligned on a /20"
  else
    SUBNET_BASE="$(( $(ip4_int 10.214.0.0) + ($(printf '%s' "$LAB_INSTANCE" | cksum | cut -d' ' -f1) % 16) * 4096 ))"
  fi
  HOST_ADDR="$(int_ip4 "$((SUBNET_BASE + 1))")"
fi

# ovmf: UEFI firmware for guests (kvmservices.create_vm firmware 'efi'); libvirt finds it through
# the QEMU firmware descriptors the package installs in /usr/share/qemu/firmware.
LAB_PACKAGES=(openssh-server openssh-client libvirt-daemon-system libvirt-clients qemu-system-x86
  qemu-utils lvm2 lxc busybox-static bridge-utils genisoimage iproute2 util-linux dnsmasq-base
  jq procps ovmf)

# ---------------------------------------------------------------------------------------------
# Record of created resources. Every resource is written down right after it exists, so that a
# crash at any point leaves a record `down` can undo. The record is kept twice: in the checkout's
# .state/ and in $LAB_ROOT, so a different checkout (a fresh CI clone) can still clean up a lab
# that an earlier one left behind.
# ---------------------------------------------------------------------------------------------
record() {
  local line
  line="$(printf '%s\t' "$@")"
  line="${line%$'\t'}"
  [[ -d "$STATE_DIR" ]] || mkdir -p "$STATE_DIR"
  printf '%s\n' "$line" >>"$STATE_DIR/resources"
  if [[ -d "$LAB_ROOT" ]]; then printf '%s\n' "$line" >>"$LAB_ROOT/resources"; fi
}

# All recorded lines of one kind (deduplicated, in creation order), fields tab-separated.
recorded() {
  local kind="$1" f
  for f in "$STATE_DIR/resources" "$LAB_ROOT/resources"; do
    if [[ -f "$f" ]]; then cat "$f"; fi
  done | awk -F'\t' -v k="$kind" '$1 == k && !seen[$0]++' | cut -f2-
}

node_name() { printf '%s%s' "$NODE_PREFIX" "$1"; }
node_addr() {
  if [[ -z "$LAB_INSTANCE" ]]; then printf '%s.%s' "$NET" "$((10 + $1))"
  else int_ip4 "$((SUBNET_BASE + 10 + $1))"; fi
}
# The first three octets of node i's node-local /24s (inside its netns only): the bridge lxcbr0's
# and the one its static route leads to. Another instance's nodes count past 255, so they take
# them from 172.16.0.0/13 and 172.24.0.0/13 (nothing of it is ever routed outside the node).
node_local_net() {
  if [[ -z "$LAB_INSTANCE" ]]; then printf '10.213.%s' "$((100 + $1))"
  else printf '172.%s.%s' "$((16 + $1 / 256))" "$(($1 % 256))"; fi
}
node_routed_net() {
  if [[ -z "$LAB_INSTANCE" ]]; then printf '10.213.%s' "$((200 + $1))"
  else printf '172.%s.%s' "$((24 + $1 / 256))" "$(($1 % 256))"; fi
}
node_state() { printf '%s/%s' "$LAB_ROOT" "$1"; }
node_index() { local n="$1"; printf '%s' "${n#"$NODE_PREFIX"}"; }

# ---------------------------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------------------------
ensure_packages() {
  local missing=() p
  for p in "${LAB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing Debian packages: ${missing[*]}"
  # Without systemd, package scripts fall back to init.d and would start libvirtd and sshd on the
  # host; a policy-rc.d that answers 101 ("action forbidden") stops that.
  local policy=/usr/sbin/policy-rc.d saved=""
  if [[ -e "$policy" ]] && ! grep -qx 'exit 101' "$policy"; then
    saved="$(mktemp /usr/sbin/policy-rc.d.oms-lab.XXXXXX)"
    mv "$policy" "$saved"
  fi
  local made_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# OMS lab: no service starts from package scripts\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  } </dev/null >&2 || rc=$?
  if [[ "$made_policy" -eq 1 ]]; then rm -f "$policy"; fi
  if [[ -n "$saved" ]]; then mv "$saved" "$policy"; fi
  [[ "$rc" -eq 0 ]] || die "apt-get failed ($rc)"
}

# ---------------------------------------------------------------------------------------------
# Namespaces and processes
# ---------------------------------------------------------------------------------------------
netns_file() { printf '/run/netns/%s' "$1"; }
uts_file() { printf '%s/%s.uts' "$NS_ROOT" "$1"; }
mnt_file() { printf '%s/%s.mnt' "$NS_ROOT" "$1"; }

# Run argv inside node $1 (net+uts+mount namespaces, node cgroups, clean environment).
# The subshell joins the cgroups first so that nsenter and what it execs inherit them.
in_node() {
  local node="$1"; shift
  (
    join_cgroups "$node"
    # Daemons started here must not hold our JSON stdout (fd 3) or the lab lock (fd 9).
    exec 3>&- 9<&-
    exec nsenter --net="$(netns_file "$node")" --uts="$(uts_file "$node")" \
      --mount="$(mnt_file "$node")" -- "${DAEMON_ENV[@]}" "$@"
  )
}

# Plain nsenter into a node (no cgroup, environment kept), for short-lived helper commands.
node_enter() {
  local node="$1"; shift
  nsenter --net="$(netns_file "$node")" --uts="$(uts_file "$node")" --mount="$(mnt_file "$node")" -- "$@"
}

# Inode numbers of a node's namespaces (empty if gone); used to find its processes.
ns_inode() { stat -L -c %i "$1" 2>/dev/null || true; }

# "net:[inode]"-style names of the node's namespaces, as /proc/PID/ns/* links show them.
node_ns_links() {
  local node="$1" ino
  ino="$(ns_inode "$(netns_file "$node")")"; if [[ -n "$ino" ]]; then echo "net:[$ino]"; fi
  ino="$(ns_inode "$(mnt_file "$node")")"; if [[ -n "$ino" ]]; then echo "mnt:[$ino]"; fi
  ino="$(ns_inode "$(uts_file "$node")")"; if [[ -n "$ino" ]]; then echo "uts:[$ino]"; fi
}

# PIDs of every process in any of the given namespaces ("net:[inode]" ...), plus all their
# descendants (LXC containers and libvirt's qemu have namespaces of their own, but descend from
# the node). One pass over /proc, however many nodes.
pids_in_namespaces() {
  [[ $# -eq 0 ]] && return 0
  local -A want=()
  local l pid link roots=()
  for l in "$@"; do want["$l"]=1; done
  # One find over /proc (a readlink per process and namespace took seconds with 500 nodes up).
  while read -r pid link; do
    pid="${pid#/proc/}"; pid="${pid%/ns}"
    [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
    if [[ -n "$link" && -n "${want[$link]:-}" ]]; then roots+=("$pid"); fi
  done < <(find /proc/[0-9]*/ns -maxdepth 1 \( -name net -o -name mnt -o -name uts \) -printf '%h %l\n' 2>/dev/null)
  [[ ${#roots[@]} -eq 0 ]] && return 0
  mapfile -t roots < <(printf '%s\n' "${roots[@]}" | sort -u)
  ps -e -o pid=,ppid= | awk -v roots="${roots[*]}" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      changed = 1
      while (changed) { changed = 0
        for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } } }
      for (p in keep) print p
    }'
}

node_pids() {
  local links
  mapfile -t links < <(node_ns_links "$1")
  pids_in_namespaces "${links[@]}"
}

# True while a process exists and is not a zombie (a zombie waits only for its parent to reap it).
pid_alive() {
  local st
  st="$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

# TERM, wait up to $1 seconds, then KILL.
kill_pids() {
  local grace="$1"; shift
  [[ $# -eq 0 ]] && return 0
  kill -TERM "$@" 2>/dev/null || true
  local i alive p
  for ((i = 0; i < grace * 10; i++)); do
    alive=0
    for p in "$@"; do pid_alive "$p" && alive=1 && break; done
    [[ "$alive" -eq 0 ]] && return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# cgroups: each node gets <our cgroup>/oms-lab/<node> in every hierarchy, so that libvirt
# ("machine/<vm>.libvirt-qemu") and LXC ("lxc.payload.<name>"), which place guests relative to
# their own cgroup, never collide when two nodes run a guest of the same name.
# ---------------------------------------------------------------------------------------------
# Prints "<dir of our cgroup>" for each mounted hierarchy.
self_cgroup_dirs() {
  awk '
    FNR == NR {                      # /proc/self/cgroup: id:controllers:path
      split($0, f, ":"); ctl = f[2]; path = substr($0, length(f[1]) + length(f[2]) + 3)
      if (ctl == "") v2 = path; else { n++; ctls[n] = ctl; paths[n] = path }
      next
    }
    {                                # /proc/self/mountinfo
      sep = 0; for (i = 1; i <= NF; i++) if ($i == "-") { sep = i; break }
      if (!sep) next
      fstype = $(sep + 1); opts = "," $(sep + 3) ","; mnt = $5; root = $4
      if (fstype == "cgroup2" && v2 != "") { p = v2 }
      else if (fstype == "cgroup") {
        p = ""
        for (k = 1; k <= n; k++) {
          m = split(ctls[k], c, ","); ok = 1
          for (j = 1; j <= m; j++) if (index(opts, "," c[j] ",") == 0) ok = 0
          if (ok) { p = paths[k]; break }
        }
        if (p == "") next
      } else next
      if (root != "/" && index(p, root) == 1) p = substr(p, length(root) + 1)
      if (p == "/") p = ""
      print mnt p
    }' /proc/self/cgroup /proc/self/mountinfo | awk '!seen[$0]++'
}

# cpuset v1 refuses tasks until cpus/mems are copied from the parent (builtins: no process).
cpuset_init() {
  local dir="$1" v
  if [[ -f "$dir/cpuset.cpus" ]]; then
    read -r v <"$dir/../cpuset.cpus"; printf '%s\n' "$v" >"$dir/cpuset.cpus"
    read -r v <"$dir/../cpuset.mems"; printf '%s\n' "$v" >"$dir/cpuset.mems"
  fi
}

# mkdir a cgroup.
make_cgroup() {
  local dir="$1"
  [[ -d "$dir" ]] && return 0
  mkdir "$dir"
  cpuset_init "$dir"
}

# The lab's own cgroup in each hierarchy: made once, before nodes are made side by side. Sets
# CG_BASES (the writable hierarchies' dirs of our cgroup) and LAB_CGROUPS (recorded cgroups),
# which the node makers (subshells) then read instead of finding them again.
CG_BASES=()
LAB_CGROUPS=()
setup_cgroup_roots() {
  local base
  CG_BASES=()
  while IFS= read -r base; do
    [[ -w "$base" ]] || continue
    CG_BASES+=("$base")
    if [[ ! -d "$base/$CG_NAME" ]]; then
      make_cgroup "$base/$CG_NAME" && record cgroup "$base/$CG_NAME"
    fi
  done < <(self_cgroup_dirs)
  mapfile -t LAB_CGROUPS < <(recorded cgroup)
}

# The node's cgroup in every hierarchy, by one mkdir.
setup_cgroups() {
  local base node="$1" dirs=() d
  for base in "${CG_BASES[@]}"; do
    [[ -d "$base/$CG_NAME" && ! -d "$base/$CG_NAME/$node" ]] && dirs+=("$base/$CG_NAME/$node")
  done
  [[ ${#dirs[@]} -eq 0 ]] && return 0
  mkdir "${dirs[@]}" || true
  for d in "${dirs[@]}"; do cpuset_init "$d" || true; done
}

join_cgroups() {
  local dir
  [[ ${#LAB_CGROUPS[@]} -gt 0 ]] || mapfile -t LAB_CGROUPS < <(recorded cgroup)
  for dir in "${LAB_CGROUPS[@]}"; do
    if [[ -f "$dir/$1/cgroup.procs" ]]; then echo "$BASHPID" >"$dir/$1/cgroup.procs" 2>/dev/null || true; fi
  done
}

# ---------------------------------------------------------------------------------------------
# down
# ---------------------------------------------------------------------------------------------
lab_down() {
  local node pids have=0
  [[ -f "$STATE_DIR/resources" || -f "$LAB_ROOT/resources" ]] && have=1
  [[ "$have" -eq 0 ]] && { log "nothing to clean up"; return 0; }
  log "tearing down the lab"
  local t0=$SECONDS

  # Guests first, politely, so qemu and LXC monitors exit through their own code paths.
  while IFS=$'\t' read -r node kind; do
    [[ "$kind" == full && -e "$(mnt_file "$node")" ]] || continue
    local d c
    for d in $(node_enter "$node" timeout 10 virsh -q -c qemu:///system list --name 2>/dev/null); do
      node_enter "$node" timeout 10 virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
    done
    # LXC's command sockets are abstract, hence per netns: lxc-ls needs the node's netns too.
    for c in $(node_enter "$node" timeout 10 lxc-ls --active 2>/dev/null); do
      node_enter "$node" timeout 15 lxc-stop -k -n "$c" >/dev/null 2>&1 || true
    done
  done < <(recorded node)

  # Then every process still living in a node's namespaces (sshd and its sessions, libvirtd,
  # virtlogd, anything a test left running), with all its descendants.
  # The namespaces' inodes by one stat for all nodes (three per node were slow with hundreds).
  local links=() files=()
  while IFS=$'\t' read -r node kind; do
    files+=("$(netns_file "$node")" "$(mnt_file "$node")" "$(uts_file "$node")")
  done < <(recorded node)
  if [[ ${#files[@]} -gt 0 ]]; then
    mapfile -t links < <(stat -L -c '%n %i' -- "${files[@]}" 2>/dev/null | awk '{
      t = ($1 ~ /\.mnt$/) ? "mnt" : ($1 ~ /\.uts$/) ? "uts" : "net"; print t ":[" $2 "]" }')
  fi
  mapfile -t pids < <(pids_in_namespaces "${links[@]}")
  if [[ ${#pids[@]} -gt 0 ]]; then
    log "stopping ${#pids[@]} lab process(es)"
    kill_pids 3 "${pids[@]}"
  fi

  # cgroups (deepest first; libvirt and LXC leave their own sub-cgroups behind). A cgroup stays
  # busy until its last zombie is reaped, so retry for a few seconds.
  local cg i left
  for ((i = 0; i < 50; i++)); do
    left=0
    while IFS= read -r cg; do
      [[ -d "$cg" ]] || continue
      find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      if [[ -d "$cg" ]]; then left=1; fi
    done < <(recorded cgroup)
    [[ "$left" -eq 0 ]] && break
    sleep 0.1
  done
  [[ "$left" -eq 0 ]] || log "some lab cgroups are still busy: $(recorded cgroup | tr '\n' ' ')"

  # Persisted namespace files, then the private tmpfs holding them. The tmpfs goes with all the
  # files under it at once (one umount per file took seconds with hundreds of nodes); a file
  # elsewhere (none today) would still be unmounted alone.
  local m r roots=()
  mapfile -t roots < <(recorded nsroot)
  for r in "${roots[@]}"; do
    if mountpoint -q "$r" 2>/dev/null; then umount -R "$r" 2>/dev/null || true; fi
  done
  while IFS= read -r m; do
    if [[ ! -e "$m" ]]; then continue; fi
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(recorded nsfile | tac)
  while IFS= read -r m; do
    if mountpoint -q "$m" 2>/dev/null; then umount -R "$m" 2>/dev/null || umount -R -l "$m" || true; fi
    rmdir "$m" 2>/dev/null || true
  done < <(recorded nsroot)

  # Loop devices, only if still backed by the file we attached.
  local dev back
  while IFS=$'\t' read -r dev back; do
    if [[ "$(losetup -n -O BACK-FILE "$dev" 2>/dev/null | sed 's/[[:space:]]*$//')" == "$back" ]]; then
      losetup -d "$dev" 2>/dev/null || log "could not detach $dev"
    fi
  done < <(recorded loop)

  local ns link
  while IFS= read -r ns; do
    [[ -e "/run/netns/$ns" ]] && { ip netns del "$ns" 2>/dev/null || log "could not delete netns $ns"; }
  done < <(recorded netns)
  # Deleting a netns took its veths along; only links still there are deleted (one listing).
  local -A present=()
  while IFS= read -r link; do present["$link"]=1; done < <(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
  while IFS= read -r link; do
    if [[ -n "${present[$link]:-}" ]]; then ip link del dev "$link" 2>/dev/null || true; fi
  done < <(recorded link | tac)

  if [[ -n "$(recorded netnsdir)" ]] && mountpoint -q /run/netns 2>/dev/null &&
    [[ -z "$(ls -A /run/netns)" ]]; then
    umount /run/netns 2>/dev/null || true
    rmdir /run/netns 2>/dev/null || true
  fi

  # Empty mount-point directories that `up` had to create on the host, unless another lab
  # instance is up: removing a directory on the host detaches what is mounted on it in every
  # mount namespace, its nodes' included.
  local d r others=""
  for r in /run/oms-lab /run/oms-lab-*; do
    if [[ "$r" != "$NS_ROOT" ]] && mountpoint -q "$r" 2>/dev/null; then others="$r"; fi
  done
  while IFS= read -r d; do
    if [[ -n "$others" ]]; then log "keeping $d: another lab ($others) is up"; else rmdir "$d" 2>/dev/null || true; fi
  done < <(recorded mkdir | tac)

  # State last: the record itself lives there.
  if [[ -d "$LAB_ROOT" && -f "$LAB_ROOT/resources" ]]; then rm -rf --one-file-system "$LAB_ROOT"; fi
  rm -f "$STATE_DIR/resources" "$STATE_DIR/lab.json" "$STATE_DIR/known_hosts" "$STATE_DIR/ssh_config" \
    "$STATE_DIR/id_ed25519" "$STATE_DIR/id_ed25519.pub"
  rmdir "$STATE_DIR" 2>/dev/null || true
  log "lab is down ($((SECONDS - t0)) s)"
}

# ---------------------------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------------------------

# Runs inside the node's fresh mount + uts namespaces (and its netns), as `lab.sh _node-setup`
# started by unshare: gives the node its hostname and its private view of the filesystem. Mounts
# made here never reach the host, because unshare made every mount private.
node_setup() {
  local name="$1" st="$2" kind="$3"
  hostname "$name"

  # Other nodes' namespace files and the host's netns list would keep those namespaces alive from
  # inside this one; drop them first.
  # Every lab instance's (a node of one must never hold a node of another alive).
  local m
  for m in /run/oms-lab /run/oms-lab-*; do
    if [[ -e "$m" ]] && mountpoint -q "$m"; then umount -R -l "$m" 2>/dev/null || true; fi
  done
  if mountpoint -q /run/netns; then umount -R -l /run/netns || true; fi

  # sysfs shows the netns of whoever mounts it: remount it so /sys/class/net lists this node's
  # interfaces (libvirt and LXC read it), keeping the cgroup tree that lives below it.
  mount --move /sys/fs/cgroup "$st/.mnt/cgroup"
  mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
  mount --move "$st/.mnt/cgroup" /sys/fs/cgroup

  mount -t tmpfs -o mode=755,nosuid,nodev,size=64m "oms-run-$name" /run
  mkdir -p /run/sshd /run/lock /run/libvirt /run/lxc /run/lvm
  chmod 1777 /run/lock
  mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m "oms-tmp-$name" /tmp

  mount --bind "$st/node" "$NODE_DIR"
  mount --bind "$st/etc/hostname" /etc/hostname
  mount --bind "$st/etc/hosts" /etc/hosts
  # The node's root has a home of its own, as on a real host: the machine's /root (a developer's
  # pyenv init in .bashrc, run by bash for every SSH command) must not leak into every node.
  mount --bind "$st/root-home" /root
  mount --bind "$st/root-ssh" /root/.ssh
  if [[ "$kind" == full ]]; then
    mount --bind "$st/etc/libvirt" /etc/libvirt
    mount --bind "$st/var/lib-libvirt" /var/lib/libvirt
    mount --bind "$st/var/log-libvirt" /var/log/libvirt
    mount --bind "$st/var/cache-libvirt" /var/cache/libvirt
    mount --bind "$st/etc/lxc" /etc/lxc
    mount --bind "$st/var/lib-lxc" /var/lib/lxc
    mount --bind "$st/var/cache-lxc" /var/cache/lxc
    mount --bind "$st/etc/lvm" /etc/lvm
  fi
}

# Host directory needed as a mount point inside the nodes; created (and recorded) if missing.
ensure_mountpoint() {
  if [[ ! -d "$1" ]]; then
    mkdir -p "$1"
    chmod "${2:-755}" "$1"
    record mkdir "$1"
  fi
}

write_sshd_config() {
  local st="$1" addr="$2"
  cat >"$st/ssh/sshd_config" <<EOF
# OMS lab node sshd (generated by test/lab/lab.sh)
Port 22
ListenAddress $addr
HostKey $st/ssh/ssh_host_ed25519_key
PidFile $st/ssh/sshd.pid
# /root/.ssh inside the node is the node's own $st/root-ssh (bind mount), so keys installed the
# usual way (e.g. by an enrollment) land in this node only.
AuthorizedKeysFile .ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM: no login session bookkeeping, faster sessions; root's password field is not locked.
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
# The gateway forwards VNC/serial console ports and may open many channels per connection.
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
MaxSessions 200
MaxStartups 200:30:400
LoginGraceTime 30
Subsystem sftp internal-sftp
LogLevel INFO
EOF
}

make_host_key() {
  local st="$1" name="$2"
  rm -f "$st/ssh/ssh_host_ed25519_key" "$st/ssh/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$st/ssh/ssh_host_ed25519_key" </dev/null >&2
}

# Waits until the node's sshd answers with an SSH banner on its address.
wait_sshd() {
  local node="$1" addr i
  addr="$(node_addr "$(node_index "$node")")"
  for ((i = 0; i < 100; i++)); do
    # shellcheck disable=SC2016  # $1 is expanded by the inner bash
    if timeout 2 nsenter --net="$(netns_file "$node")" bash -c \
      'exec 3<>"/dev/tcp/$1/22" && head -c 4 <&3' _ "$addr" 2>/dev/null | grep -q '^SSH-'; then
      return 0
    fi
    sleep 0.1
  done
  die "$node: sshd did not come up (see $(node_state "$node")/ssh/sshd.log)"
}

start_sshd() {
  local node="$1" st
  st="$(node_state "$node")"
  rm -f "$st/ssh/sshd.pid"
  in_node "$node" /usr/sbin/sshd -f "$st/ssh/sshd_config" -E "$st/ssh/sshd.log"
  wait_sshd "$node"
}

# Kills every sshd of the node: the listener and all per-connection processes, so clients see
# their connections drop (what "sshd killed mid-call" means for the fault tests).
stop_sshd() {
  local node="$1" p pids=()
  for p in $(node_pids "$node"); do
    if [[ "$(readlink "/proc/$p/exe" 2>/dev/null)" == /usr/sbin/sshd ]]; then pids+=("$p"); fi
  done
  if [[ ${#pids[@]} -gt 0 ]]; then kill -KILL "${pids[@]}" 2>/dev/null || true; fi
  rm -f "$(node_state "$node")/ssh/sshd.pid"
}

# Copies of the host's libvirt/LXC/LVM config and state skeletons that become the node's own.
prepare_full_node_files() {
  local node="$1" st="$2" i="$3" loopdev="$4"
  mkdir -p "$st/var"
  cp -a /etc/libvirt "$st/etc/libvirt"
  cp -a /var/lib/libvirt "$st/var/lib-libvirt"
  cp -a /var/log/libvirt "$st/var/log-libvirt"
  mkdir -p "$st/var/cache-libvirt"; cp -a /var/cache/libvirt/. "$st/var/cache-libvirt/"
  cp -a /etc/lxc "$st/etc/lxc"
  mkdir -p "$st/var/lib-lxc" "$st/var/cache-lxc"
  cp -a /etc/lvm "$st/etc/lvm"

  # libvirt: guests run as root (host /dev/kvm is root-only), no host security driver (no
  # AppArmor here), VNC on the node's loopback by default; the host's default NAT network would
  # need dnsmasq+iptables, so it is not autostarted.
  cat >>"$st/etc/libvirt/qemu.conf" <<'EOF'

# --- OMS lab node settings (test/lab/lab.sh) ---
user = "root"
group = "root"
remember_owner = 0
security_driver = "none"
vnc_listen = "127.0.0.1"
EOF
  cat >>"$st/etc/libvirt/libvirtd.conf" <<'EOF'

# --- OMS lab node settings (test/lab/lab.sh) ---
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
  rm -f "$st/etc/libvirt/qemu/networks/autostart/default.xml"
  # A libvirt network on the node-local bridge, so `virsh net-list` has a working network that
  # needs neither dnsmasq nor a firewall.
  cat >"$st/etc/libvirt/qemu/networks/lab.xml" <<EOF
<network>
  <name>lab</name>
  <forward mode='bridge'/>
  <bridge name='lxcbr0'/>
</network>
EOF
  ln -sf ../lab.xml "$st/etc/libvirt/qemu/networks/autostart/lab.xml"

  # LXC: containers join the node-local lxcbr0. "relative" keeps their cgroups below the node's
  # (LXC otherwise escapes to the root cgroup, where equal container names of two nodes clash).
  cat >"$st/etc/lxc/default.conf" <<'EOF'
lxc.net.0.type = veth
lxc.net.0.link = lxcbr0
lxc.net.0.flags = up
lxc.cgroup.relative = 1
EOF
  if [[ -d /sys/kernel/security/apparmor ]]; then
    printf 'lxc.apparmor.profile = generated\nlxc.apparmor.allow_nesting = 1\n' >>"$st/etc/lxc/default.conf"
  fi

  # LVM: this node sees only its own loop device; the kernel has no device-mapper, so activation
  # is switched off here (the equivalent of passing --driverloaded n to every command) and
  # nothing waits for udev.
  cat >"$st/etc/lvm/lvmlocal.conf" <<EOF
# OMS lab node $node (generated by test/lab/lab.sh)
devices {
	global_filter = [ "a|^${loopdev}\$|", "r|.*|" ]
	obtain_device_list_from_udev = 0
	use_devicesfile = 0
}
global {
	activation = 0
	use_lvmpolld = 0
	event_activation = 0
}
activation {
	udev_sync = 0
	udev_rules = 0
	monitoring = 0
}
EOF
}

# --- ovzservices: container template (owner: ovzservices) ------------------------------------
# A small busybox root-filesystem tarball in the node's container template cache, so containers
# can be deployed from the first test on: ovzt-busybox.tar.gz + ovzt-busybox.json (its default
# settings; SIGUSR1 halts busybox init). rcS does not run udhcpc: container addresses come from
# the container config (lxc.net.0.ipv4.address), which udhcpc would flush.
build_ovz_template() {
  local node="$1"
  # shellcheck disable=SC2016  # expanded by the inner sh
  in_node "$node" sh -c 'set -eu
    cache=/var/lib/oms-node/templates/cache
    [ -f "$cache/ovzt-busybox.tar.gz" ] && exit 0
    d=$(mktemp -d /tmp/ovzt-build.XXXXXX)
    trap "rm -rf \"$d\"" EXIT
    lxc-create -P "$d" -t busybox -n 9999 >/dev/null
    r="$d/9999/rootfs"
    printf "#!/bin/sh\n/bin/syslogd\n/bin/mount -a\n" >"$r/etc/init.d/rcS"
    mkdir -p "$cache"
    tar -C "$r" --numeric-owner -czf "$cache/ovzt-busybox.tar.gz.part" .
    printf "{\"memory\":64,\"min_memory\":32,\"vcpu\":1,\"vcpulimit\":0,\"disk\":64,\"halt_signal\":\"SIGUSR1\"}\n" >"$cache/ovzt-busybox.json"
    mv -f "$cache/ovzt-busybox.tar.gz.part" "$cache/ovzt-busybox.tar.gz"' >&2 ||
    die "$node: building the container template failed"
}
# --- end ovzservices ---------------------------------------------------------------------------

# --- kvmservices network install: install trees (owner: kvmservices) ---------------------------
# kvmservices.create_vm_from_location boots a kernel and initrd taken from an install tree. The
# lab's trees, served over HTTP on $HOST_ADDR by the tests themselves, are under $NETINST_DIR:
#   debian/install.amd/{vmlinuz,initrd.gz}     Debian install image layout
#   treeinfo/.treeinfo, images/pxeboot/{vmlinuz,initrd.img}   RHEL/Fedora layout
# Both hold Debian's own kernel (linux-image-amd64) and a busybox initramfs whose /init prints the
# kernel command line on the serial port ("OMS-NETINST cmdline: ...", on ttyS0 whether or not
# console=ttyS0 was given) until a line is typed there or 120 s pass, then reboots, as an
# installer ends. This machine's nested KVM (kvm_pvm) does not get Debian's kernel past its
# decompressor, so the tests run these guests under TCG (node setting guestVirtType 'qemu'),
# where it reaches /init in about ten seconds.
# The Debian kernel is taken out of its package (dpkg-deb), not installed: installing would run
# initramfs-tools' hooks on this machine for a kernel it never boots. It is kept in
# $NETINST_CACHE (outside $LAB_ROOT, so `down` keeps it and the next `up` downloads nothing).
NETINST_DIR="$LAB_ROOT/netinst"
NETINST_CACHE=/var/cache/oms-lab/kernel

netinst_kernel() {
  local pkg ver k
  # A kernel of an installed linux-image-amd64 is used as it is.
  if dpkg-query -W -f='${Status}' linux-image-amd64 2>/dev/null | grep -q 'install ok installed'; then
    pkg="$(dpkg-query -W -f='${Depends}' linux-image-amd64 | grep -o 'linux-image-[0-9][^ ,]*' | head -n1)"
    k="/boot/vmlinuz-${pkg#linux-image-}"
    if [[ -s "$k" ]]; then printf '%s\n' "$k"; return 0; fi
  fi
  k="$(find "$NETINST_CACHE" -maxdepth 1 -name 'vmlinuz-*' -size +1M 2>/dev/null | sort | tail -n1)"
  if [[ -n "$k" ]]; then printf '%s\n' "$k"; return 0; fi
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
  if [[ -z "$pkg" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2 || die "apt-get update failed"
    pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
  fi
  [[ -n "$pkg" ]] || die "no linux-image-amd64 in the apt sources"
  ver="${pkg#linux-image-}"
  log "netinst: downloading $pkg for its kernel"
  local tmp
  tmp="$(mktemp -d /tmp/oms-lab-kernel.XXXXXX)"
  (
    cd "$tmp"
    apt-get download -qq "$pkg" </dev/null >&2
    dpkg-deb --fsys-tarfile ./*.deb | tar -x ./boot
  ) || { rm -rf "$tmp"; die "could not download or unpack $pkg"; }
  mkdir -p "$NETINST_CACHE"
  mv -f "$tmp/boot/vmlinuz-$ver" "$NETINST_CACHE/vmlinuz-$ver"
  rm -rf "$tmp"
  printf '%s\n' "$NETINST_CACHE/vmlinuz-$ver"
}

# Bumped whenever the trees' content changes, so a lab built by an older lab.sh rebuilds them.
NETINST_FORMAT=2

# The format and the initrd's size and mtime: an older lab.sh (another checkout) that rebuilt the
# trees since leaves a stamp that no longer matches.
netinst_stamp() { printf '%s %s\n' "$NETINST_FORMAT" "$(stat -c %s.%Y -- "$NETINST_DIR/debian/install.amd/initrd.gz" 2>/dev/null)"; }

netinst_tree() {
  local deb="$NETINST_DIR/debian/install.amd" rh="$NETINST_DIR/treeinfo" stamp="$NETINST_DIR/.format"
  if [[ -s "$stamp" && "$(cat "$stamp")" == "$(netinst_stamp)" && -s "$deb/vmlinuz" && -s "$rh/images/pxeboot/initrd.img" && -s "$rh/.treeinfo" ]]; then
    return 0
  fi
  local kernel t0=$SECONDS
  kernel="$(netinst_kernel)"
  local d
  d="$(mktemp -d /tmp/oms-lab-initrd.XXXXXX)"
  mkdir -p "$d/bin" "$d/dev" "$d/proc"
  # busybox-static (a lab package): the initramfs has no libraries.
  cp /bin/busybox "$d/bin/busybox"
  local a
  for a in sh cat echo mount reboot sleep uname; do ln -s busybox "$d/bin/$a"; done
  # The kernel opens /dev/console for init before anything is mounted: it must be in the archive.
  mknod -m 600 "$d/dev/console" c 5 1
  cat >"$d/init" <<'EOF'
#!/bin/sh
# OMS lab "installer": shows the kernel command line on the serial port until a line is typed
# there (or 120 s pass), then reboots, as an installer does when it is done. It talks to ttyS0
# itself, so the line shows on the serial console even when console= names another device.
mount -t proc proc /proc
mount -t devtmpfs dev /dev
exec </dev/ttyS0 >/dev/ttyS0 2>&1
echo "OMS-NETINST kernel: $(uname -r)"
i=0
while [ "$i" -lt 120 ]; do
  echo "OMS-NETINST cmdline: $(cat /proc/cmdline)"
  if read -t 1 line; then break; fi
  i=$((i + 1))
done
echo "OMS-NETINST done, rebooting"
reboot -f
EOF
  chmod 755 "$d/init"
  # Trees of an older format (the lab/ tree with a stand-in kernel) go.
  rm -rf -- "$NETINST_DIR/lab" "$NETINST_DIR/debian" "$rh"
  mkdir -p "$deb" "$rh/images/pxeboot"
  (cd "$d" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -9 >"$deb/initrd.gz.part"
  rm -rf -- "$d"
  cp "$kernel" "$deb/vmlinuz.part"
  mv -f "$deb/initrd.gz.part" "$deb/initrd.gz"
  mv -f "$deb/vmlinuz.part" "$deb/vmlinuz"
  ln -f "$deb/vmlinuz" "$rh/images/pxeboot/vmlinuz"
  ln -f "$deb/initrd.gz" "$rh/images/pxeboot/initrd.img"
  cat >"$rh/.treeinfo" <<'EOF'
[header]
type = productmd.treeinfo
version = 1.2

[general]
arch = x86_64
family = OMS lab
name = OMS lab 1
version = 1

[images-x86_64]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img
EOF
  netinst_stamp >"$stamp"
  log "netinst: install tree in $NETINST_DIR ($((SECONDS - t0)) s)"
}
# --- end kvmservices network install -----------------------------------------------------------

create_node() {
  local i="$1" kind="$2" node addr st now
  node="$(node_name "$i")"
  addr="$(node_addr "$i")"
  st="$(node_state "$node")"
  log "$node: $kind node at $addr"

  mkdir -p "$st"/{node/isos,node/images,node/templates,node/canary,ssh,etc,root-ssh,root-home/.ssh,.mnt/cgroup}
  chmod 700 "$st/root-ssh" "$st/root-home"
  cp /etc/skel/.bashrc /etc/skel/.profile "$st/root-home/" 2>/dev/null || true

  # Network: veth into the lab bridge, plus a node-local bridge (lxcbr0) with one port and a
  # node-specific static route, so `ip -j route` and `bridge link` differ from node to node.
  ip netns add "$node"
  # Recorded only now: `down` looks for processes in a recorded node's namespaces, and must
  # never do that in a netns of the same name that someone else made.
  record netns "$node"
  record node "$node" "$kind"
  ip link add "$VETH_PREFIX$i" type veth peer name eth0 netns "$node"
  record link "$VETH_PREFIX$i"
  ip link set "$VETH_PREFIX$i" master "$BRIDGE" up
  local lnet rnet
  lnet="$(node_local_net "$i")"
  rnet="$(node_routed_net "$i")"
  # One ip process for the node's own side (a dozen apiece made 500 nodes slow to build).
  ip -n "$node" -batch - <<EOF
link set lo up
addr add $addr/$PREFIX_LEN dev eth0
link set eth0 up
route add default via $HOST_ADDR dev eth0
link add lxcbr0 type bridge
addr add $lnet.1/24 dev lxcbr0
link add labp${i}a type veth peer name labp${i}b
link set labp${i}a master lxcbr0 up
link set labp${i}b up
link set lxcbr0 up
route add $rnet.0/24 via $lnet.254 dev lxcbr0 proto static metric 50
EOF

  # Files the node serves: a real ISO, a disk image, a template, and the canary. Light nodes of
  # another instance share one set made at up (hard links; the ISO names the instance), so 500
  # of them cost no ISO and qcow2 builds.
  if [[ -n "$LAB_INSTANCE" && "$kind" == light ]]; then
    ln "$LAB_ROOT/.proto/lab.iso" "$st/node/isos/lab.iso"
    ln "$LAB_ROOT/.proto/lab-disk.qcow2" "$st/node/images/lab-disk.qcow2"
    ln "$LAB_ROOT/.proto/lab-template.qcow2" "$st/node/templates/lab-template.qcow2"
  else
    mkdir -p "$st/.iso"
    printf 'OMS lab ISO for %s\n' "$node" >"$st/.iso/README.TXT"
    genisoimage -quiet -V OMSLAB -J -r -o "$st/node/isos/lab.iso" "$st/.iso" 2>/dev/null
    rm -rf "$st/.iso"
    qemu-img create -q -f qcow2 "$st/node/images/lab-disk.qcow2" 16M
    qemu-img create -q -f qcow2 "$st/node/templates/lab-template.qcow2" 16M
  fi
  TZ=UTC printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  printf 'oms lab canary of %s created %s\n' "$node" "$now" >"$st/node/canary/canary"

  printf '%s\n' "$node" >"$st/etc/hostname"
  printf '127.0.0.1\tlocalhost\n%s\t%s\n%s\tomslab-host\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    "$addr" "$node" "$HOST_ADDR" >"$st/etc/hosts"

  # SSH: own host key, config, and the authorized key(s).
  make_host_key "$st" "$node"
  write_sshd_config "$st" "$addr"
  cat "$AUTHORIZED_KEY_FILE" >"$st/root-ssh/authorized_keys"
  chmod 600 "$st/root-ssh/authorized_keys"

  local loopdev=""
  if [[ "$kind" == full ]]; then
    truncate -s 1G "$st/lvm.img"
    loopdev="$(losetup -f --show "$st/lvm.img")"
    record loop "$loopdev" "$st/lvm.img"
    prepare_full_node_files "$node" "$st" "$i" "$loopdev"
  fi

  setup_cgroups "$node"

  # The uts and mount namespaces outlive their first process: unshare bind-mounts them onto
  # files in $NS_ROOT, from which sshd, the daemons and nodeExec all enter the same namespaces.
  touch "$(uts_file "$node")" "$(mnt_file "$node")"
  record nsfile "$(uts_file "$node")"
  record nsfile "$(mnt_file "$node")"
  if [[ -z "$LAB_INSTANCE" ]]; then
    nsenter --net="$(netns_file "$node")" unshare --uts="$(uts_file "$node")" \
      --mount="$(mnt_file "$node")" --propagation private \
      bash "${BASH_SOURCE[0]}" _node-setup "$node" "$st" "$kind"
  else
    # Another instance's nodes start from the base mount namespace (see base_ns): a copy of the
    # host's would carry every lab's namespace files, hundreds once hundreds of nodes exist, and
    # unmounting them in each new node made up O(nodes^2). The setup process reports its pid
    # and waits while its namespaces are bound onto the node's files here, in the host's.
    local pid=""
    coproc SETUP { nsenter --net="$(netns_file "$node")" --mount="$NS_ROOT/base.mnt" \
      unshare --uts --mount --propagation private bash "$LAB_DIR/${BASH_SOURCE[0]##*/}" _node-setup-hold "$node" "$st" "$kind"; }
    read -r -u "${SETUP[0]}" pid || true
    [[ "$pid" =~ ^[0-9]+$ ]] || die "$node: setting up its namespaces failed"
    mount --bind "/proc/$pid/ns/uts" "$(uts_file "$node")"
    mount --bind "/proc/$pid/ns/mnt" "$(mnt_file "$node")"
    local w="${SETUP[1]}"
    exec {w}>&-
    wait "$SETUP_PID" || die "$node: its setup process failed"
  fi

  if [[ "$kind" == full ]]; then
    # The VG is made from inside the node so its metadata backups land in the node's /etc/lvm.
    local out
    # shellcheck disable=SC2016  # $1 and $2 are expanded by the inner sh
    out="$(in_node "$node" sh -c 'pvcreate -q "$1" && vgcreate -q "$2" "$1"' lvm "$loopdev" "vg_$node" 2>&1)" ||
      die "$node: creating the VG failed: $out"
  fi

  if [[ "${BULK_SSHD_CHECK:-0}" -eq 1 ]]; then
    rm -f "$st/ssh/sshd.pid"
    in_node "$node" /usr/sbin/sshd -f "$st/ssh/sshd_config" -E "$st/ssh/sshd.log"
  else
    start_sshd "$node"
  fi
}

# Light nodes made side by side: every sshd is checked at the end from the host, on the lab
# bridge, by bash's /dev/tcp (no process per node). sshd binds its socket before it forks away,
# so this is a check, not a wait; a node that stays silent for 10 s fails the up.
wait_all_sshd() {
  local node kind addr fd banner i
  while IFS=$'\t' read -r node kind; do
    addr="$(node_addr "$(node_index "$node")")"
    for ((i = 0; i < 100; i++)); do
      banner=""
      # (exec's own redirections would last: the braces keep 2>/dev/null to this one.)
      if { exec {fd}<>"/dev/tcp/$addr/22"; } 2>/dev/null; then
        read -r -t 2 -u "$fd" banner || true
        exec {fd}>&-
      fi
      [[ "$banner" == SSH-* ]] && break
      sleep 0.1
    done
    [[ "$banner" == SSH-* ]] || die "$node: sshd did not come up (see $(node_state "$node")/ssh/sshd.log)"
  done < <(recorded node)
}

start_libvirt() {
  local node="$1"
  in_node "$node" virtlogd -d
  in_node "$node" libvirtd -d
}

wait_libvirt() {
  local node="$1" i
  for ((i = 0; i < 300; i++)); do
    if in_node "$node" virsh -q -c qemu:///system uri >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "$node: libvirtd did not answer (see $(node_state "$node")/var/log-libvirt/libvirtd.log)"
}

# Prints the lab JSON, built from what is on disk now (so a rotated host key shows up).
lab_json() {
  # One ssh-keygen and one jq for all nodes (three processes per node took ~10 s for 500).
  local node kind st pub rows="" keys nodes_json
  keys="$(mktemp)"
  while IFS=$'\t' read -r node kind; do
    st="$(node_state "$node")"
    read -r pub <"$st/ssh/ssh_host_ed25519_key.pub"
    printf '%s\n' "$pub" >>"$keys"
    pub="$(cut -d' ' -f1,2 <<<"$pub")"
    rows+="$node"$'\t'"$kind"$'\t'"$(node_addr "$(node_index "$node")")"$'\t'"$st"$'\t'"$pub"$'\n'
  done < <(recorded node | sort -t$'\t' -k1,1V)
  nodes_json="$(paste <(printf '%s' "$rows") <(if [[ -s "$keys" ]]; then ssh-keygen -l -E sha256 -f "$keys" | cut -d' ' -f2; fi) |
    jq -R -s -c --arg nd "$NODE_DIR" '[split("\n")[] | select(. != "") | split("\t")
      | {name: .[0], kind: .[1], address: .[2], st: .[3], pub: .[4], fp: .[5]}
      | {name, address, port: 22, hostKeyFingerprint: .fp, hostKeyPublic: .pub,
         stateDir: .st, libvirt: (.kind == "full"),
         lvm: (if .kind == "full" then {vg: ("vg_" + .name)} else null end),
         lxc: (.kind == "full"), netns: .name, hostname: .name,
         authorizedKeysFile: (.st + "/root-ssh/authorized_keys"),
         dirs: {isos: ($nd + "/isos"), images: ($nd + "/images"), templates: ($nd + "/templates"),
                canary: ($nd + "/canary")}}
      | if .lvm == null then del(.lvm) else . end]')"
  rm -f "$keys"
  local key=""
  [[ -f "$STATE_DIR/id_ed25519" ]] && key="$STATE_DIR/id_ed25519"
  # The nodes on stdin: hundreds of them are more than one argument may hold.
  jq --arg key "$key" --arg br "$BRIDGE" --arg host "$HOST_ADDR" \
    --arg kh "$STATE_DIR/known_hosts" --arg sc "$STATE_DIR/ssh_config" \
    '{nodes: .} + (if $key != "" then {privateKey: $key} else {} end)
     + {bridge: $br, hostAddress: $host, knownHosts: $kh, sshConfig: $sc}' <<<"$nodes_json"
}

write_lab_json() {
  local json
  json="$(lab_json)"
  printf '%s\n' "$json" >"$STATE_DIR/lab.json"
  printf '%s\n' "$json" >"$LAB_ROOT/lab.json"
  jq -r '.nodes[] | "\(.address) \(.hostKeyPublic)"' <<<"$json" >"$STATE_DIR/known_hosts"
  # `ssh -F .state/ssh_config omsnode1` (and pssh/ansible) with the pinned keys.
  jq -r --arg kh "$STATE_DIR/known_hosts" '.nodes[] as $n
    | "Host \($n.name)\n  HostName \($n.address)\n  Port \($n.port)\n  User root\n"
      + (if .privateKey then "  IdentityFile \(.privateKey)\n  IdentitiesOnly yes\n" else "" end)
      + "  UserKnownHostsFile \($kh)\n  StrictHostKeyChecking yes\n  BatchMode yes\n"' \
    <<<"$json" >"$STATE_DIR/ssh_config"
  printf '%s\n' "$json" >&3
}

lab_up() {
  local nodes=3 light=0 full=3 authkey=""
  # Another instance is for scale: light nodes unless --full asks for some.
  [[ -n "$LAB_INSTANCE" ]] && full=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --nodes) nodes="${2:?--nodes needs a number}"; shift 2 ;;
      --nodes=*) nodes="${1#*=}"; shift ;;
      --light) light=1; shift ;;
      --full) full="${2:?--full needs a number}"; shift 2 ;;
      --full=*) full="${1#*=}"; shift ;;
      --authorized-key) authkey="${2:?--authorized-key needs a file}"; shift 2 ;;
      --authorized-key=*) authkey="${1#*=}"; shift ;;
      *) die "unknown option for up: $1" ;;
    esac
  done
  [[ "$nodes" =~ ^[0-9]+$ && "$nodes" -ge 1 && "$nodes" -le "$MAX_NODES" ]] ||
    die "--nodes must be 1..$MAX_NODES"
  [[ "$full" =~ ^[0-9]+$ ]] || die "--full must be a number"
  [[ "$light" -eq 1 ]] && full=0
  if [[ -n "$authkey" ]]; then
    [[ -f "$authkey" ]] || die "authorized key file not found: $authkey"
    grep -q 'PRIVATE KEY' "$authkey" && die "$authkey is a private key; pass the public key (.pub)"
    ssh-keygen -l -f "$authkey" >/dev/null 2>&1 || die "$authkey is not an OpenSSH public key file"
    authkey="$(cd "$(dirname "$authkey")" && pwd)/$(basename "$authkey")"
  fi

  local t0=$SECONDS
  ensure_packages
  lab_down
  # A failed up leaves nothing behind (set OMS_LAB_KEEP_ON_FAILURE=1 to inspect the wreck).
  UP_DONE=0
  trap 'if [[ "$UP_DONE" -eq 0 && "${OMS_LAB_KEEP_ON_FAILURE:-0}" != 1 ]]; then
          log "up failed; cleaning up"; lab_down || true; fi' EXIT
  [[ -e "/run/netns/$(node_name 1)" ]] && die "netns $(node_name 1) exists but is not recorded as ours"
  ip link show dev "$BRIDGE" >/dev/null 2>&1 && die "$BRIDGE exists but is not recorded as ours"
  if [[ -n "$LAB_INSTANCE" ]]; then
    # The instance's /20 must be nobody's: no route into it, none covering it but the default.
    local subnet clash
    subnet="$(int_ip4 "$SUBNET_BASE")/$PREFIX_LEN"
    clash="$( { ip -4 route show root "$subnet"; ip -4 route show match "$subnet"; } | { grep -v '^default' || true; } | head -n1)"
    [[ -z "$clash" ]] || die "$subnet is already routed here ($clash); choose another with LAB_SUBNET"
  fi

  mkdir -p "$STATE_DIR"
  [[ -d "$LAB_ROOT" ]] && die "$LAB_ROOT exists but is not recorded as ours"
  mkdir -m 755 "$LAB_ROOT"
  record dir "$LAB_ROOT"
  cp "$STATE_DIR/resources" "$LAB_ROOT/resources"

  if [[ -n "$authkey" ]]; then
    AUTHORIZED_KEY_FILE="$authkey"
  else
    ssh-keygen -q -t ed25519 -N '' -C oms-lab -f "$STATE_DIR/id_ed25519" </dev/null >&2
    AUTHORIZED_KEY_FILE="$STATE_DIR/id_ed25519.pub"
  fi

  ip link add "$BRIDGE" type bridge
  record link "$BRIDGE"
  ip addr add "$HOST_ADDR/$PREFIX_LEN" dev "$BRIDGE"
  ip link set "$BRIDGE" up

  # Namespace files must sit on a private mount (the kernel refuses a mount namespace bind
  # that could propagate into itself).
  mkdir -p "$NS_ROOT"
  record nsroot "$NS_ROOT"
  mount -t tmpfs -o size=1m,mode=700 oms-lab-ns "$NS_ROOT"
  mount --make-private "$NS_ROOT"

  # Another instance's nodes start from a base mount namespace made now, without any lab's
  # namespace files (their own are bound later, in the host's namespace only): see create_node.
  if [[ -n "$LAB_INSTANCE" ]]; then
    touch "$NS_ROOT/base.mnt"
    record nsfile "$NS_ROOT/base.mnt"
    unshare --mount="$NS_ROOT/base.mnt" --propagation private true
    # shellcheck disable=SC2016  # expanded by the inner bash
    nsenter --mount="$NS_ROOT/base.mnt" bash -c 'for m in /run/oms-lab /run/oms-lab-* /run/netns; do
      if [[ -e "$m" ]] && mountpoint -q "$m"; then umount -R -l "$m"; fi; done'
  fi

  # `ip netns add` turns /run/netns into a mount of its own; undo that at down if it was us.
  if ! mountpoint -q /run/netns 2>/dev/null; then record netnsdir /run/netns; fi

  ensure_mountpoint "$NODE_DIR"
  ensure_mountpoint /root/.ssh 700
  setup_cgroup_roots

  # Full nodes one after the other (loop devices, libvirt copies); light nodes of another
  # instance LAB_PARALLEL at a time (default 4 per CPU), so 500 come up in well under a minute.
  # The default lab stays one at a time unless LAB_PARALLEL says otherwise.
  local i kind par="${LAB_PARALLEL:-}" failed=0 pids=() p
  if [[ -z "$par" ]]; then
    if [[ -z "$LAB_INSTANCE" ]]; then par=1; else par=$(( $(nproc) * 4 )); fi
  fi
  [[ "$par" =~ ^[0-9]+$ && "$par" -ge 1 ]] || die "LAB_PARALLEL must be a positive number"
  if [[ -n "$LAB_INSTANCE" && "$full" -lt "$nodes" ]]; then
    # The light nodes' shared sample files.
    mkdir -p "$LAB_ROOT/.proto/.iso"
    printf 'OMS lab ISO for lab instance %s\n' "$LAB_INSTANCE" >"$LAB_ROOT/.proto/.iso/README.TXT"
    genisoimage -quiet -V OMSLAB -J -r -o "$LAB_ROOT/.proto/lab.iso" "$LAB_ROOT/.proto/.iso" 2>/dev/null
    qemu-img create -q -f qcow2 "$LAB_ROOT/.proto/lab-disk.qcow2" 16M
    qemu-img create -q -f qcow2 "$LAB_ROOT/.proto/lab-template.qcow2" 16M
  fi
  for ((i = 1; i <= nodes; i++)); do
    kind=light
    [[ "$i" -le "$full" ]] && kind=full
    if [[ "$kind" == full || "$par" -eq 1 ]]; then create_node "$i" "$kind"; continue; fi
    BULK_SSHD_CHECK=1 create_node "$i" "$kind" &
    pids+=("$!")
    # A window of `par` makers: wait for the oldest (wait PID always gets its status; wait -n
    # lost some when several ended at once).
    if [[ ${#pids[@]} -ge "$par" ]]; then
      wait "${pids[0]}" || failed=1
      pids=("${pids[@]:1}")
    fi
    [[ "$failed" -eq 0 ]] || break
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [[ "$failed" -eq 0 ]] || die "a node could not be made (see above)"
  if [[ "$par" -gt 1 ]]; then wait_all_sshd; fi

  # libvirtd probes QEMU (~3 s of CPU) on first use; the first full node does it once and the
  # others start from a copy of its capabilities cache (same host, same binaries: still valid).
  local node first=""
  while IFS=$'\t' read -r node kind; do
    [[ "$kind" == full ]] || continue
    if [[ -n "$first" ]]; then
      cp -a "$(node_state "$first")/var/cache-libvirt/qemu/." "$(node_state "$node")/var/cache-libvirt/qemu/"
    fi
    start_libvirt "$node"
    if [[ -z "$first" ]]; then
      first="$node"
      wait_libvirt "$node"
      in_node "$node" virsh -q -c qemu:///system domcapabilities --virttype kvm >/dev/null
    fi
  done < <(recorded node)
  while IFS=$'\t' read -r node kind; do
    if [[ "$kind" == full ]]; then wait_libvirt "$node"; build_ovz_template "$node"; fi
  done < <(recorded node)

  # The install trees are for full nodes' guests; an instance of light nodes needs none.
  if [[ -z "$LAB_INSTANCE" || "$full" -gt 0 ]]; then netinst_tree; fi
  write_lab_json
  UP_DONE=1
  log "up in $((SECONDS - t0)) s"
  if [[ -n "$LAB_INSTANCE" ]]; then log "memory: $(lab_mem | jq -r '"\(.nodes) nodes, sshd \(.sshdRssKiBPerNode) KiB RSS / \(.sshdPssKiBPerNode) KiB PSS per node"')"; fi
}

# What the nodes' listening sshds take, as JSON: {nodes, sshdRssKiBPerNode, sshdPssKiBPerNode}.
# RSS counts the pages an sshd shares with every other (the binary, libc) again for each node;
# PSS shares them out, so PSS times nodes is what the nodes add up to. A light node runs nothing
# else (its SSH sessions come and go with the gateway's connections).
lab_mem() {
  local node kind pid n=0 rss=0 pss=0 v
  while IFS=$'\t' read -r node kind; do
    read -r pid 2>/dev/null <"$(node_state "$node")/ssh/sshd.pid" || continue
    v="$(awk '/^Rss:/ {r = $2} /^Pss:/ {p = $2} END {if (r != "") print r, p}' "/proc/$pid/smaps_rollup" 2>/dev/null)" || continue
    [[ -n "$v" ]] || continue
    n=$((n + 1)); rss=$((rss + ${v% *})); pss=$((pss + ${v#* }))
  done < <(recorded node)
  jq -n -c --argjson n "$n" --argjson rss "$rss" --argjson pss "$pss" \
    '{nodes: $n, sshdRssKiBPerNode: (if $n > 0 then ($rss / $n | floor) else 0 end),
      sshdPssKiBPerNode: (if $n > 0 then ($pss / $n | floor) else 0 end)}'
}

lab_status() {
  local f
  for f in "$STATE_DIR/lab.json" "$LAB_ROOT/lab.json"; do
    if [[ -f "$f" ]] && ip link show dev "$BRIDGE" >/dev/null 2>&1; then
      cat "$f" >&3
      return 0
    fi
  done
  log "lab is not up"
  return 1
}

require_node() {
  local node="${1:-}"
  [[ -n "$node" ]] || die "node name required"
  recorded node | cut -f1 | grep -qx -- "$node" || die "no such lab node: $node"
}

main() {
  [[ "$(id -u)" -eq 0 ]] || die "the lab needs root"
  local cmd="${1:-}"
  shift || true
  # fd 3 is the real stdout, reserved for the JSON; any stray output of a tool goes to stderr.
  exec 3>&1 1>&2
  # One lab operation at a time (lock on this script file, nothing created).
  exec 9<"${BASH_SOURCE[0]}"
  case "$cmd" in
    up | down | sshd-start | sshd-stop | rotate-hostkey)
      flock -w 300 9 || die "another lab.sh holds the lock on ${BASH_SOURCE[0]}" ;;
  esac
  case "$cmd" in
    up) lab_up "$@" ;;
    down) lab_down ;;
    status) lab_status ;;
    mem) lab_mem >&3 ;;
    sshd-stop) require_node "${1:-}"; stop_sshd "$1" ;;
    sshd-start) require_node "${1:-}"; stop_sshd "$1"; start_sshd "$1" ;;
    rotate-hostkey)
      require_node "${1:-}"
      stop_sshd "$1"
      make_host_key "$(node_state "$1")" "$1"
      start_sshd "$1"
      write_lab_json
      ;;
    _node-setup) node_setup "$@" ;;
    _node-setup-hold)
      # As _node-setup, then says its pid on stdout and lives until stdin closes (create_node).
      node_setup "$@"
      printf '%s\n' "$$" >&3
      exec 3>&-
      read -r _ || true
      ;;
    netinst-tree)
      [[ -d "$LAB_ROOT" ]] || die "the lab is not up ($LAB_ROOT missing)"
      flock -w 300 9 || die "another lab.sh holds the lock on ${BASH_SOURCE[0]}"
      netinst_tree
      ;;
    exec)
      require_node "${1:-}"
      local node="$1"; shift
      [[ "${1:-}" == -- ]] && shift
      in_node "$node" "$@" >&3
      ;;
    *) die "usage: lab.sh up [--nodes N] [--light] [--full K] [--authorized-key FILE] | down | status | netinst-tree" ;;
  esac
}

main "$@"
