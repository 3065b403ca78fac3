#!/usr/bin/env bash
# Runs one DaxSim scenario on a three-member cluster in containers (docker-compose.yml) and
# tears everything down again, on a Debian bookworm machine with no init system and no
# registry but Debian's and NuGet. docs/containers.md describes it. In order:
#   1. installs docker.io, docker-compose, debootstrap and nftables when missing;
#   2. starts dockerd by hand (log in out/containers/dockerd.log), after noting the network
#      state it will change: links, iptables/ip6tables rules, nftables tables, sysctls;
#   3. makes the base image daxsim-base:bookworm with debootstrap when it is missing,
#      from the bookworm main mirror of the machine's apt sources, which it leaves in
#      neither the image nor this repository;
#   4. publishes Host/ self-contained into docker/.context/ and builds daxsim:latest;
#   5. docker-compose up -d seed worker1 worker2, then docker-compose run runner (bounded),
#      prints the runner's output, copies its report, docker-compose down -v. A member may
#      die (crashNode) without stopping the others;
#   6. stops the dockerd it started and removes what that dockerd added: bridges, veths,
#      iptables rules and chains, nftables tables, mounts, sysctl changes. Images stay in
#      /var/lib/docker, so the next run is fast.
# Exits with the runner's exit code (0 clean, 1 safety, 3 liveness, 2 bad input),
# 124 when the run timed out, 2 for a usage error here, and 1 when a step failed.
# shellcheck disable=SC2317  # functions run from the EXIT trap are reachable
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo
readonly base_image=daxsim-base:bookworm
readonly app_image=daxsim:latest
readonly context="$repo/docker/.context"   # docker build context (git-ignored)
readonly artifacts="$repo/docker/.build"   # dotnet publish's obj/bin (git-ignored)
readonly out="$repo/out/containers"        # logs and the runner's report (git-ignored)
readonly state=/run/daxsim-dockerd         # dockerd's pid and the state before it started
readonly sock=/var/run/docker.sock
readonly sysctls=(net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv6.conf.all.forwarding
                  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)

scenario=${DAXSIM_SCENARIO:-scenarios/generic-503-punch.json}
up_timeout=${DAXSIM_UP_TIMEOUT:-600}
project=${DAXSIM_COMPOSE_PROJECT:-daxsim}
report=""
keep_dockerd=0
rebuild_base=0
build_app=1
action=run

usage() {
    cat <<EOF
usage: docker/cluster-up.sh [options]
  --scenario FILE     scenario to run: a file of scenarios/ or its subfolders, as a name
                      (lease-break, crash-pinning-node), a file name, cluster/NAME.json
                      or scenarios/.../NAME.json (env DAXSIM_SCENARIO;
                      default scenarios/generic-503-punch.json)
  --timeout SECONDS   bound on docker-compose up (env DAXSIM_UP_TIMEOUT; default 600)
  --report FILE       copy the runner's JSON report there (default: out/containers/report.json)
  --keep-dockerd      leave dockerd running (and its bridges and rules); a later run reuses it
  --stop-dockerd      only stop a dockerd kept by --keep-dockerd and clean up after it
  --rebuild-base      make daxsim-base:bookworm again even if it exists (default: skip if present)
  --no-build          reuse daxsim:latest as it is: no publish, no docker build
  -h, --help          this text
EOF
}

die_usage() { echo "cluster-up: $*" >&2; usage >&2; exit 2; }
say() { printf 'cluster-up: %s\n' "$*"; }
fail() { echo "cluster-up: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --scenario) (($# >= 2)) || die_usage "--scenario needs a file"; scenario=$2; shift 2 ;;
        --timeout) (($# >= 2)) || die_usage "--timeout needs seconds"; up_timeout=$2; shift 2 ;;
        --report) (($# >= 2)) || die_usage "--report needs a file"; report=$2; shift 2 ;;
        --keep-dockerd) keep_dockerd=1; shift ;;
        --stop-dockerd) action=stop; shift ;;
        --rebuild-base) rebuild_base=1; shift ;;
        --no-build) build_app=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die_usage "unknown argument '$1'" ;;
    esac
done
[[ $up_timeout =~ ^[1-9][0-9]*$ ]] || die_usage "--timeout must be a positive number of seconds, not '$up_timeout'"
((EUID == 0)) || fail "must run as root (it installs packages and starts dockerd)"

# The scenario must be one of scenarios/ (or its subfolders, such as scenarios/cluster/):
# the image holds a copy of that folder. NAME, NAME.json, cluster/NAME, scenarios/...,
# or a path to a file in it; a bare name not at the top is looked for in scenarios/cluster/.
scenario_in_image() {
    local arg=$1 root path=""
    root=$(cd "$repo/scenarios" && pwd -P)
    [[ $arg == *.json ]] || arg+=.json
    if [[ $arg == scenarios/* && -f $repo/$arg ]]; then path=$repo/$arg
    elif [[ $arg != /* && -f $root/$arg ]]; then path=$root/$arg
    elif [[ $arg != */* && -f $root/cluster/$arg ]]; then path=$root/cluster/$arg
    elif [[ -f $arg ]]; then path=$arg
    else die_usage "no scenario '$1' in $repo/scenarios/"
    fi
    path=$(cd "$(dirname "$path")" && pwd -P)/$(basename "$path")
    [[ $path == "$root"/* ]] \
        || die_usage "'$1' is not in $repo/scenarios/ (the image holds only that folder: put the file there)"
    printf 'scenarios/%s' "${path#"$root"/}"
}
scenario=$(scenario_in_image "$scenario")
report=${report:-$out/report.json}

# --- cleanup ----------------------------------------------------------------------------------

docker_bin=/usr/bin/docker   # the client of docker.io, the same version as its dockerd
owned_dockerd=0              # 1 when this run (or an earlier --keep-dockerd run) started it
dockerd_pid=""
compose_up=0
rootfs=""
tmp_policy=0
child=""                     # the long step running now (see step)

# Runs a long step, its output appended to the file $1, in the background in a process
# group of its own, and waits for it. A foreground child that catches SIGINT itself
# (dotnet, docker-compose) would keep bash from acting on a Ctrl-C; `wait` returns at once
# on a trapped signal, and the EXIT trap then ends the step's whole group (MSBuild nodes,
# compilers...). The output goes to the file from inside, so that the trap's does not.
step() {
    local log=$1
    shift
    setsid "$@" >>"$log" 2>&1 </dev/null &
    child=$!
    local code=0
    wait "$child" || code=$?
    child=""
    return "$code"
}

compose_cmd=(docker-compose --ansi never -p "$project" -f "$repo/docker-compose.yml")
readonly runner_name="$project-runner"   # the runner's container (docker-compose run --name)
compose() { "${compose_cmd[@]}" "$@"; }

cleanup() {
    local code=$?
    trap - EXIT INT TERM ERR
    set +e
    if [[ -n $child ]]; then
        say "interrupted: ending the running step (process group $child)"
        kill -TERM -- "-$child" 2>/dev/null
        wait "$child" 2>/dev/null
        sleep 1
        kill -KILL -- "-$child" 2>/dev/null
    fi
    if ((compose_up)); then
        say "docker-compose down -v"
        "$docker_bin" rm -f "$runner_name" >/dev/null 2>&1
        compose down -v --remove-orphans -t 30 >>"$out/compose.log" 2>&1
    fi
    [[ -n $rootfs ]] && remove_rootfs "$rootfs"
    if ((tmp_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    if ((owned_dockerd && !keep_dockerd)); then
        stop_dockerd
    elif ((owned_dockerd)); then
        say "dockerd (pid $dockerd_pid) keeps running; 'docker/cluster-up.sh --stop-dockerd' stops it and cleans up"
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'echo "cluster-up: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# --- packages ---------------------------------------------------------------------------------

install_packages() {
    local wanted=(docker.io docker-compose debootstrap nftables) missing=() p
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    say "installing ${missing[*]}"
    # No init system here; keep the packages' maintainer scripts from starting daemons.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        tmp_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if ((tmp_policy)); then rm -f /usr/sbin/policy-rc.d; tmp_policy=0; fi
}

# --- dockerd ----------------------------------------------------------------------------------

daemon_up() { "$docker_bin" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

links() { ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }

# What dockerd changes, written before it first starts. Kept while it runs (also across
# --keep-dockerd runs) and compared with the state after it stopped.
save_state() {
    mkdir -p "$state"
    [[ -f $state/links ]] && return 0   # from an earlier start whose cleanup did not finish
    links >"$state/links.tmp"
    iptables-save >"$state/iptables"
    ip6tables-save >"$state/ip6tables"
    nft list tables >"$state/nft-tables" 2>/dev/null || : >"$state/nft-tables"
    local s
    for s in "${sysctls[@]}"; do
        printf '%s %s\n' "$s" "$(sysctl -n "$s" 2>/dev/null || echo -)"
    done >"$state/sysctls"
    # mount(8) makes /run/mount (its utab) on first use.
    [[ -d /run/mount ]] && : >"$state/run-mount-existed"
    mv "$state/links.tmp" "$state/links"
}

start_dockerd() {
    if [[ -f $state/pid ]] && alive "$(cat "$state/pid")" && daemon_up; then
        dockerd_pid=$(cat "$state/pid")
        owned_dockerd=1
        say "reusing dockerd (pid $dockerd_pid) kept by an earlier run"
        return 0
    fi
    if daemon_up; then
        say "reusing a dockerd this script did not start: it will not stop it or clean up after it"
        return 0
    fi
    save_state
    say "starting dockerd (log: $out/dockerd.log)"
    # Its own session, so that a Ctrl-C here reaches the script, which stops it in order.
    setsid dockerd --host "unix://$sock" --pidfile "$state/dockerd.pid" \
        >>"$out/dockerd.log" 2>&1 </dev/null &
    dockerd_pid=$!
    echo "$dockerd_pid" >"$state/pid"
    owned_dockerd=1
    local i
    for ((i = 0; i < 60; i++)); do
        if daemon_up; then
            dockerd_pid=$(cat "$state/dockerd.pid" 2>/dev/null || echo "$dockerd_pid")
            echo "$dockerd_pid" >"$state/pid"
            say "dockerd $("$docker_bin" version --format '{{.Server.Version}}') is up (pid $dockerd_pid)"
            return 0
        fi
        alive "$dockerd_pid" || { tail -n 20 "$out/dockerd.log" >&2; fail "dockerd exited while starting"; }
        sleep 1
    done
    tail -n 20 "$out/dockerd.log" >&2
    fail "dockerd did not answer within 60 s"
}

# Undoes, in one iptables-restore transaction per table, what is in the tables now and
# was not in the saved state: new user chains are flushed and deleted, new rules of the
# chains that were there are deleted, a built-in chain that was not there is flushed, and
# a changed policy of a built-in chain is set back.
undo_xtables() {   # $1 = iptables | ip6tables, $2 = its saved -save output
    local cmd=$1 before=$2 script
    script=$(awk -v before="$before" '
        /^\*/ { table = substr($0, 2); next }
        /^:/ {
            chain = substr($1, 2)
            if (FILENAME == before) { policy[table, chain] = $2; next }
            if ((table, chain) in policy) {
                if ($2 != "-" && $2 != policy[table, chain]) { fix[table] = fix[table] ":" chain " " policy[table, chain] " [0:0]\n"; touched[table] = 1 }
            } else if ($2 == "-") { newchain[table] = newchain[table] chain " "; touched[table] = 1 }
            else { flush[table] = flush[table] "-F " chain "\n"; touched[table] = 1 }
            next
        }
        /^-A / {
            if (FILENAME == before) { rules[table, $0]++; next }
            if (rules[table, $0] > 0) { rules[table, $0]--; next }
            if (!((table, $2) in policy)) next        # in a chain that is new: flushed whole
            del[table] = del[table] "-D" substr($0, 3) "\n"; touched[table] = 1
        }
        END {
            for (t in touched) {
                printf "*%s\n%s%s", t, fix[t], flush[t]
                n = split(newchain[t], c, " ")
                for (i = 1; i <= n; i++) printf "-F %s\n", c[i]
                printf "%s", del[t]
                for (i = 1; i <= n; i++) printf "-X %s\n", c[i]
                print "COMMIT"
            }
        }' "$before" <("$cmd-save"))
    [[ -z $script ]] && return 0
    say "removing the $cmd rules and chains dockerd added"
    "$cmd-restore" --noflush <<<"$script" || echo "cluster-up: $cmd-restore failed on:"$'\n'"$script" >&2
}

alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

stop_dockerd() {
    local i=0 pid=$dockerd_pid
    if [[ -n $pid ]] && alive "$pid"; then
        say "stopping dockerd (pid $pid)"
        kill -TERM "$pid"
        while alive "$pid" && ((i++ < 60)); do sleep 0.5; done
        if alive "$pid"; then
            say "dockerd did not stop within 30 s: SIGKILL"
            kill -KILL "$pid"
            sleep 1
        fi
    fi
    # The containerd that dockerd started (it normally stops it on the way out).
    local cpid
    cpid=$(cat /run/docker/containerd/containerd.pid 2>/dev/null || true)
    if [[ -n $cpid ]] && alive "$cpid"; then
        say "stopping the containerd dockerd left (pid $cpid)"
        kill -TERM "$cpid"; sleep 2; if alive "$cpid"; then kill -KILL "$cpid"; fi
    fi
    # Mounts left under its runtime and data directories (network namespaces, overlays).
    local m
    { awk '{ print $2 }' /proc/mounts | grep -E '^(/run/docker|/var/run/docker|/run/containerd|/var/lib/docker)(/|$)' || true; } \
        | sort -r | while read -r m; do umount -l "$m" && say "unmounted $m"; done
    rm -rf /run/docker /run/containerd /run/docker.pid "$sock"
    [[ -f $state/links ]] || { say "no saved state in $state: nothing else to undo"; return 0; }

    local link
    for link in $(comm -13 "$state/links" <(links)); do
        case $link in
            docker0|br-*|veth*) ip link delete "$link" 2>/dev/null && say "deleted link $link" ;;
            *) say "left link $link alone: not one of dockerd's (docker0, br-*, veth*)" ;;
        esac
    done
    undo_xtables iptables "$state/iptables"
    undo_xtables ip6tables "$state/ip6tables"
    if command -v nft >/dev/null; then
        local family table
        while read -r _ family table; do
            [[ -n $table ]] || continue
            # A table that is new, and empty of rules once the iptables cleanup is done.
            if nft -a list table "$family" "$table" | grep '# handle' | grep -vqE '^\s*(table|chain|set|map|flowtable) '; then
                say "left nftables table $family $table alone: it still has rules dockerd did not add"
            else
                nft delete table "$family" "$table" && say "deleted nftables table $family $table (new, empty)"
            fi
        done < <(comm -13 <(sort "$state/nft-tables") <(nft list tables | sort))
    fi
    local name value
    while read -r name value; do
        [[ $value == - ]] && continue
        [[ $(sysctl -n "$name" 2>/dev/null) == "$value" ]] || { sysctl -qw "$name=$value" && say "restored $name=$value"; }
    done <"$state/sysctls"
    [[ -f $state/run-mount-existed ]] || rmdir /run/mount 2>/dev/null || true
    rm -rf "$state"
    say "dockerd stopped; images stay in /var/lib/docker"
}

# Images of this script that a rebuild left without a name and unused (only those: the
# filter is the label daxsim.image, which both images carry).
prune_replaced() { "$docker_bin" image prune -f --filter label=daxsim.image >/dev/null; }

# --- base image -------------------------------------------------------------------------------

# The first bookworm main entry of the machine's apt sources, one-line or deb822 format.
apt_mirror() {
    local f uri
    if [[ -n ${DAXSIM_APT_MIRROR:-} ]]; then printf '%s' "$DAXSIM_APT_MIRROR"; return 0; fi
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk '
            { sub(/#.*/, "") }
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) != "bookworm") next
                for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit }
            }' "$f")
        [[ -n $uri ]] && { printf '%s' "$uri"; return 0; }
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk '
            function check() {
                if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && comps ~ /(^| )main( |$)/ && enabled != "no" && uris != "")
                    { split(uris, u, " "); print u[1]; found = 1; exit }
                types = suites = comps = uris = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { check(); next }
            { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "") }
            key == "types" { types = $0 } key == "suites" { suites = $0 }
            key == "components" { comps = $0 } key == "uris" { uris = $0 }
            key == "enabled" { enabled = tolower($0) }
            END { if (!found) check() }' "$f")
        [[ -n $uri ]] && { printf '%s' "$uri"; return 0; }
    done
    return 1
}

remove_rootfs() {
    local dir=$1 m
    # debootstrap mounts /proc and /sys inside; never let rm reach into a mount.
    { awk '{ print $2 }' /proc/mounts | grep -F "$dir/" || true; } | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf --one-file-system "$dir"
    rootfs=""
}

make_base_image() {
    if ((!rebuild_base)) && "$docker_bin" image inspect "$base_image" >/dev/null 2>&1; then
        say "$base_image exists: skipping debootstrap (--rebuild-base makes it again)"
        return 0
    fi
    local mirror host t0=$SECONDS
    mirror=$(apt_mirror) || fail "no 'bookworm main' entry in /etc/apt/sources.list or /etc/apt/sources.list.d/ (or set DAXSIM_APT_MIRROR)"
    host=$(sed -E 's#^[a-z+]+://([^/@]*@)?([^/:]+).*#\2#' <<<"$mirror")
    rootfs=$(mktemp -d /var/tmp/daxsim-rootfs.XXXXXX)
    say "debootstrap --variant=minbase --include=libssl3 bookworm (mirror of the machine's apt sources; log: $out/debootstrap.log)"
    : >"$out/debootstrap.log"
    step "$out/debootstrap.log" debootstrap --variant=minbase --include=libssl3 bookworm "$rootfs" "$mirror" \
        || { tail -n 20 "$out/debootstrap.log" >&2; fail "debootstrap failed"; }
    # No apt sources, package lists, caches or logs that name the mirror; no host files.
    # dpkg's apt access method (for dselect, not installed) suggests Debian's mirror: gone too.
    printf '# No apt sources: this image is made offline by docker/cluster-up.sh.\n' >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/etc/apt/sources.list.d/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
        "$rootfs"/var/log/bootstrap.log "$rootfs"/var/log/apt/* "$rootfs"/debootstrap \
        "$rootfs"/usr/lib/dpkg/methods/apt \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    find "$rootfs/var/lib/apt/lists" -mindepth 1 -maxdepth 1 ! -name lock ! -name partial -exec rm -rf {} +
    find "$rootfs/var/lib/apt/lists/partial" -mindepth 1 -delete 2>/dev/null || true
    : >"$rootfs/etc/resolv.conf"
    : >"$rootfs/etc/hostname"
    local left
    if grep -qF " $rootfs/" /proc/mounts; then fail "something is still mounted under $rootfs"; fi
    left=$(grep -rlFa -e "$host" "$rootfs" || true)
    [[ -z $left ]] || fail "the mirror's host name is still in these files of the base image: ${left//$rootfs/}"
    say "importing $base_image"
    tar --numeric-owner -C "$rootfs" -c . | "$docker_bin" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        --change 'LABEL daxsim.image=base' \
        --message "debootstrap --variant=minbase --include=libssl3 bookworm, apt sources removed" \
        - "$base_image" >/dev/null
    remove_rootfs "$rootfs"
    prune_replaced
    say "$base_image made in $((SECONDS - t0)) s, $("$docker_bin" image inspect -f '{{.Size}}' "$base_image" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
}

# --- app image --------------------------------------------------------------------------------

build_app_image() {
    local t0=$SECONDS
    say "dotnet publish Host -c Release -r linux-x64 --self-contained (into docker/.context/app)"
    rm -rf "$context"
    mkdir -p "$context"
    # No MSBuild node or build server outlives the publish.
    : >"$out/publish.log"
    step "$out/publish.log" dotnet publish "$repo/Host/DaxSim.Host.csproj" -c Release -r linux-x64 --self-contained \
        --artifacts-path "$artifacts" -o "$context/app" --disable-build-servers -nodeReuse:false -nologo -v quiet \
        || { tail -n 30 "$out/publish.log" >&2; fail "dotnet publish failed"; }
    cp -r "$repo/scenarios" "$context/scenarios"
    say "published in $((SECONDS - t0)) s ($(du -sm "$context/app" | cut -f1) MB); docker build"
    t0=$SECONDS
    : >"$out/build.log"
    step "$out/build.log" "$docker_bin" build -f "$repo/docker/Dockerfile" -t "$app_image" \
        --label daxsim.image=app \
        --label "org.opencontainers.image.revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)" \
        "$context" || { tail -n 30 "$out/build.log" >&2; fail "docker build failed"; }
    prune_replaced
    say "$app_image built in $((SECONDS - t0)) s, $("$docker_bin" image inspect -f '{{.Size}}' "$app_image" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
}

# --- the run ----------------------------------------------------------------------------------

run_cluster() {
    export DAXSIM_SCENARIO=$scenario
    local t0=$SECONDS code=0 runner_code="" running=""
    compose down -v --remove-orphans -t 10 >"$out/compose.log" 2>&1 || true   # an interrupted earlier run
    "$docker_bin" rm -f "$runner_name" >/dev/null 2>&1 || true
    compose_up=1
    # The members in the background, each on its own: one that exits (a crashNode fault
    # kills its process) ends its own container, not the run. `up --abort-on-container-exit`
    # (or `--exit-code-from`, which implies it in docker-compose 1.29) would stop everything.
    say "docker-compose up -d seed worker1 worker2 (log: $out/compose.log)"
    step "$out/compose.log" timeout --kill-after=30 120 "${compose_cmd[@]}" up -d seed worker1 worker2 \
        || { tail -n 20 "$out/compose.log" >&2; fail "docker-compose up -d failed"; }
    # The runner in the foreground: `run` returns its exit code; --use-aliases gives it the
    # network alias `runner` (its DAXSIM_HOSTNAME, the name the members answer it by);
    # --no-deps leaves the members as they are; -T: no terminal. It waits for the three
    # members to be Up itself (--join with --nodes 3). The container stays after it ends,
    # for its exit code and its report (docker cp), and is removed below.
    say "docker-compose run runner: $scenario on seed, worker1, worker2 (bounded by $up_timeout s)"
    : >"$out/runner.log"
    step "$out/runner.log" timeout --kill-after=30 "$up_timeout" \
        "${compose_cmd[@]}" run -T --no-deps --use-aliases --name "$runner_name" runner || code=$?
    say "the runner ended after $((SECONDS - t0)) s (docker-compose run: exit code $code)"
    echo "----- runner output -----"
    grep -vE '^((Creating|Starting) .*|[0-9]+)$' "$out/runner.log" || true
    echo "-------------------------"
    runner_code=$("$docker_bin" inspect -f '{{.State.ExitCode}}' "$runner_name" 2>/dev/null || echo "")
    running=$("$docker_bin" inspect -f '{{.State.Running}}' "$runner_name" 2>/dev/null || echo "")
    mkdir -p "$(dirname "$report")"
    if [[ -n $runner_code ]] && "$docker_bin" cp "$runner_name:/tmp/daxsim-report.json" "$report" 2>/dev/null; then
        say "runner's report: $report"
    fi
    compose ps 2>/dev/null || true
    compose logs --no-color --timestamps seed worker1 worker2 >"$out/members.log" 2>&1 || true
    say "the members' output: $out/members.log"
    # timeout's own codes: 124, or 137 when it had to SIGKILL docker-compose.
    if ((code == 124 || (code == 137 && SECONDS - t0 >= up_timeout))); then
        echo "cluster-up: the run did not finish within $up_timeout s" >&2
        code=124
    elif [[ -n $runner_code && $running == false ]]; then
        code=$runner_code
    else
        echo "cluster-up: the runner's container did not run to its end (docker-compose run: exit code $code)" >&2
        code=1
    fi
    say "docker-compose down -v"
    "$docker_bin" rm -f "$runner_name" >/dev/null 2>&1 || true
    compose down -v --remove-orphans -t 30 >>"$out/compose.log" 2>&1 || true
    compose_up=0
    return "$code"
}

mkdir -p "$out"
if [[ $action == stop ]]; then
    if [[ -f $state/pid ]]; then
        dockerd_pid=$(cat "$state/pid")
        owned_dockerd=1
    else
        say "no dockerd kept by this script ($state/pid is missing)"
    fi
    exit 0   # the EXIT trap stops it and cleans up
fi

install_packages
start_dockerd
make_base_image
((build_app)) && build_app_image
"$docker_bin" image inspect "$app_image" >/dev/null 2>&1 || fail "no image $app_image (run without --no-build)"
status=0
run_cluster || status=$?
say "runner exit code: $status"
exit "$status"
