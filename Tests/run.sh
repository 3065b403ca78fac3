#!/usr/bin/env bash
# The README's test command: installs what the suite needs beyond the .NET SDK when it is
# missing, then runs `dotnet test` on the whole solution. Extra arguments go to dotnet test
# (`Tests/run.sh --filter ScenarioLoaderSpecs`). .ci/run calls this same script.
#
# Installed from Debian's packages, each only when it is missing:
# - chromium: the timeline report's browser specs drive a real headless Chromium
#   (Tests/Support/HeadlessChromium.cs);
# - docker-compose (1.29, without the Docker engine it recommends): the compose-file specs
#   run `docker-compose config` on docker-compose.yml (Tests/Cluster/ComposeFileSpecs.cs);
# - postgresql (only its binaries are used): the PostgreSQL journal's specs start a
#   throwaway server on loopback with initdb and pg_ctl (Tests/Cluster/PostgresJournalSpecs.cs).
# Installing needs root or sudo. Without either, the script says what is missing and goes
# on; the specs that need it then fail and say why.
set -uo pipefail
cd "$(dirname "$0")/.."

updated=
install() { # install [--no-install-recommends] PACKAGE
    local sudo=
    if (( EUID != 0 )); then
        if ! command -v sudo >/dev/null; then
            echo "Tests/run.sh: ${*: -1} is missing and there is neither root nor sudo to install it (apt-get install ${*: -1})" >&2
            return
        fi
        sudo=sudo
    fi
    echo "Tests/run.sh: installing ${*: -1} (apt-get)" >&2
    { [[ -n $updated ]] || $sudo apt-get update -qq; } && updated=1 && { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; } \
        || echo "Tests/run.sh: could not install ${*: -1}; the specs that need it will fail" >&2
}

command -v chromium >/dev/null || install chromium
command -v docker-compose >/dev/null || install --no-install-recommends docker-compose
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null \
    || install --no-install-recommends postgresql

exec dotnet test "$@"
