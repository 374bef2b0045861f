#!/usr/bin/env bash
# Installs the Debian packages soundalike needs, or says exactly how to.
#   scripts/system-deps.sh run    what the app needs (PortAudio for playback)
#   scripts/system-deps.sh test   what the test suite needs as well (MIDI rendering, X for screenshots,
#                                 a PostgreSQL server for the studio catalog tests)
# As root it runs apt-get; otherwise it prints the command and, for `test`, fails.
set -euo pipefail

# Qt's xcb platform plugin (the app's window on X11) needs these since Qt 6.5; desktop
# installs usually have them, minimal and server images do not.
qt_packages=(libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
             libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libxcb-randr0 libxcb-xkb1 libegl1
             libgl1 libfontconfig1 libdbus-1-3)
run_packages=(libportaudio2 libsndfile1 "${qt_packages[@]}")
test_packages=(fluidsynth timgm6mb-soundfont xvfb xauth postgresql)

case "${1:-run}" in
  run) wanted=("${run_packages[@]}") ;;
  test) wanted=("${run_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

command -v dpkg-query >/dev/null || { echo "system-deps: not a Debian/Ubuntu system; install PortAudio and fluidsynth yourself" >&2; exit 0; }

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "system-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "system-deps: missing Debian packages; run:  sudo apt-get install ${missing[*]}" >&2
  # The app still starts without PortAudio (it says playback is unavailable); tests do not.
  [ "${1:-run}" = test ] && exit 1
fi
exit 0
