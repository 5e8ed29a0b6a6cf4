# shellcheck shell=bash
# bench/shoal-leftovers.sh - sourced by bench/run.sh and bench/run-multi.sh.
#
# shoal_leftovers DIR...: remove what the shoal daemons under DIR left running.
# A daemon that got `kill -9` (swarm-bench's nodedown and failover) leaves its
# containers: one shoal-monitor each (it outlives the daemon by design), the
# runc container, the overlay root and the task's tmpfs.  Only what is found
# under DIR is touched: monitors by the PID in DIR/.../monitor.pid when their
# command line is a shoal-monitor's, runc containers through runc's state
# under DIR/.../data/runc, mounts whose mount point is under DIR.
shoal_leftovers() {  # dir...
  local dir
  for dir in "$@"; do shoal_leftovers_dir "$dir"; done
  return 0
}
shoal_leftovers_dir() {  # dir
  local dir=$1 root id pf p mp i
  [[ -n $dir && -d $dir ]] || return 0
  dir=$(cd "$dir" && pwd -P)
  for root in "$dir"/data/runc "$dir"/node*/data/runc; do
    [[ -d $root ]] || continue
    for id in $(runc --root "$root" list -q 2>/dev/null); do
      timeout 10 runc --root "$root" kill "$id" KILL >/dev/null 2>&1
      timeout 10 runc --root "$root" delete --force "$id" >/dev/null 2>&1
    done
  done
  for pf in "$dir"/data/containers/*/monitor.pid "$dir"/node*/data/containers/*/monitor.pid; do
    [[ -f $pf ]] || continue
    p=$(tr -dc '0-9' < "$pf")
    [[ -n $p ]] || continue
    if tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q 'shoal-monitor'; then
      kill -TERM "$p" 2>/dev/null
      for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
      kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    fi
  done
  # deepest first; mount points are octal-escaped in mountinfo
  while IFS= read -r mp; do
    umount -l "$mp" 2>/dev/null
  done < <(awk -v d="$dir/" 'index($5, d) == 1 { print length($5), $5 }' /proc/self/mountinfo |
           sort -rn | cut -d' ' -f2- | sed 's/\\040/ /g')
  return 0
}
