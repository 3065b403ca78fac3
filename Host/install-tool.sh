#!/usr/bin/env bash
# Packs daxsim as a .NET tool and installs it from that package (README, "Install as a .NET
# tool"), then checks that the installed daxsim runs the embedded default scenario.
#
#   Host/install-tool.sh [TOOL_PATH]     # default: .daxsim-tool in the current directory
#
# Offline: the package goes to a local folder, which `dotnet tool install` takes as its
# source (--add-source); only the build's own NuGet packages come from the configured feeds.
set -euo pipefail
tool_path=$(realpath -m "${1:-.daxsim-tool}")
cd "$(dirname "$0")/.."

feed=$(mktemp -d)
trap 'rm -rf "$feed"' EXIT

dotnet pack Host -c Release -o "$feed"
# Over an earlier install: uninstall first (install refuses, update wants a newer version).
if [[ -e "$tool_path/daxsim" ]]; then
    dotnet tool uninstall --tool-path "$tool_path" DaxSim
fi
dotnet tool install --tool-path "$tool_path" --add-source "$feed" DaxSim

# The default scenario is embedded in the tool, so it runs from any directory.
(cd "$feed" && "$tool_path/daxsim" run --runtime deterministic --seed 1 >/dev/null)
echo "installed: $tool_path/daxsim"
