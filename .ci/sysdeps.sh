#!/usr/bin/env bash
# Install the Debian/Ubuntu system libraries Qt needs, only those that are missing.
#
#   .ci/sysdeps.sh MODE [EXTRA_PACKAGE...]
#
#   none       only the extra packages (e.g. python3-venv for `make venv`)
#   offscreen  what the tests need (QT_QPA_PLATFORM=offscreen)
#   window     offscreen + the xcb libraries for a real window on X11
#   xvfb       window + xvfb and xauth (a virtual display, for screenshots)
#
# Extra packages (e.g. make, procps) are installed the same way when missing.
# Runs apt-get as root, else through sudo. Exits non-zero when something is missing and
# cannot be installed, after printing the exact command to run by hand.
# Package lists: docs/stack-notes.md §2, measured on a fresh Debian 12.
set -euo pipefail

OFFSCREEN=(libglib2.0-0 libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3)
WINDOW=(libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
        libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0)
XVFB=(xvfb xauth)

usage() { echo "usage: $0 none|offscreen|window|xvfb [extra-package...]" >&2; exit 2; }

[[ $# -ge 1 ]] || usage
mode=$1
shift
case $mode in
    none) wanted=() ;;
    offscreen) wanted=("${OFFSCREEN[@]}") ;;
    window) wanted=("${OFFSCREEN[@]}" "${WINDOW[@]}") ;;
    xvfb) wanted=("${OFFSCREEN[@]}" "${WINDOW[@]}" "${XVFB[@]}") ;;
    *) usage ;;
esac
wanted+=("$@")

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "sysdeps: not a Debian/Ubuntu system; make sure the equivalents of these are" \
         "installed: ${wanted[*]}" >&2
    exit 0
fi

installed() {
    # Ubuntu 24.04 renamed some libraries with a t64 suffix (libglib2.0-0t64).
    local p
    for p in "$1" "$1t64"; do
        if dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
            return 0
        fi
    done
    return 1
}

missing=()
for p in "${wanted[@]}"; do
    installed "$p" || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "sysdeps ($mode): all system packages present"
    exit 0
fi

echo "sysdeps ($mode): missing system packages: ${missing[*]}"
install_cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"

if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [[ -t 0 ]]; }; then
    # Passwordless sudo, or a terminal where sudo can ask for the password.
    sudo=(sudo)
else
    echo "sysdeps: not root and no usable sudo; as root, run:" >&2
    echo "    $install_cmd" >&2
    exit 1
fi

if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
   ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
       apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    echo "sysdeps: apt-get failed; as root, run:" >&2
    echo "    $install_cmd" >&2
    exit 1
fi
echo "sysdeps ($mode): installed ${missing[*]}"
