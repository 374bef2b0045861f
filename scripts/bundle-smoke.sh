#!/usr/bin/env bash
# Smoke test of the PyInstaller bundle (make bundle): runs the bundled executable the way a
# user would, with nothing from the source tree on its path. The studio extra (Ray, psycopg)
# must not be in it.
#
#   scripts/bundle-smoke.sh [DIST_DIR]        # default dist/soundalike
#
# 1. --version prints "soundalike <version>";
# 2. embed on a generated WAV with the bundled default model (resources/models/default.pt),
#    or, when the bundle has none, a random-init model file written here with the venv python;
#    then on the same query as an .m4a (AAC, decoded by the bundle's PyAV);
# 3. index the bundled demo library into a temporary db (decode workers = forkserver
#    processes re-entering the frozen executable), then search --json on it;
# 4. cues on an .otio and an FCP 7 XML timeline (the bundled OpenTimelineIO adapters);
# 5. the GUI starts offscreen (QT_QPA_PLATFORM=offscreen) and quits by itself
#    (SOUNDALIKE_QUIT_AFTER_MS), exit status 0; again on X11 under Xvfb when xvfb-run exists.
# Per-user folders (settings, catalog, logs) go to a temporary HOME/XDG tree, removed at exit.
# Prints one "ok" line with the wall time per step; exits non-zero at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

DIST=${1:-dist/soundalike}
EXE="$DIST/soundalike"
PY=${PYTHON:-.venv/bin/python}
[ -x "$EXE" ] || { echo "bundle-smoke: no executable at $EXE (run: make bundle)" >&2; exit 1; }
RES="$DIST/_internal/resources"
[ -d "$RES/demo" ] || { echo "bundle-smoke: demo library missing from the bundle ($RES/demo)" >&2; exit 1; }
for studio in ray psycopg psycopg_binary grpc; do  # the studio extra stays out (build.spec)
  [ ! -e "$DIST/_internal/$studio" ] || { echo "bundle-smoke: $studio is bundled; build.spec must exclude it" >&2; exit 1; }
done

TMP=$(mktemp -d -t soundalike-smoke.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/config" XDG_DATA_HOME="$TMP/data" XDG_CACHE_HOME="$TMP/cache"
mkdir -p "$HOME"
unset SOUNDALIKE_MODEL

now() { date +%s.%N; }
step() {  # step NAME COMMAND...: run, time it, keep its output in $TMP/NAME.{out,err}
  local name=$1; shift
  local t0; t0=$(now)
  if ! "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
    echo "FAIL $name: $*" >&2
    tail -n 20 "$TMP/$name.out" "$TMP/$name.err" >&2
    exit 1
  fi
  printf 'ok   %-8s %6.2f s\n' "$name" "$(echo "$(now) - $t0" | bc)"
}
check() {  # check NAME PYTHON-CODE: the code reads the step's files and asserts
  if ! "$PY" -c "$2" "$TMP" >"$TMP/check.out" 2>&1; then
    echo "FAIL $1 (check)" >&2; cat "$TMP/check.out" >&2; exit 1
  fi
}

# 1. version
step version timeout 120 "$EXE" --version
VERSION=$("$PY" -c "import sys; sys.path.insert(0, '.'); from app import APP_NAME, __version__; print(APP_NAME, __version__)")
grep -qx "$VERSION" "$TMP/version.out" || { echo "FAIL version: got '$(cat "$TMP/version.out")', want '$VERSION'" >&2; exit 1; }

# 2. embed a generated file
"$PY" - "$TMP/query.wav" <<'EOF'
import sys
import numpy as np
import soundfile as sf
sr = 22050
t = np.arange(8 * sr) / sr
tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 4
clicks = 0.3 * np.sin(2 * np.pi * 1000 * t) * np.exp(-(t % 0.5) / 0.005)
sf.write(sys.argv[1], (tone + clicks).astype(np.float32), sr)
EOF
MODEL_ARGS=()
if [ -f "$RES/models/default.pt" ]; then
  echo "     model: bundled default ($RES/models/default.pt)"
else
  "$PY" - "$TMP/random.pt" <<'EOF'
import sys
from model.checkpoint import new_untrained_model, save_model, untrained_card
from model.network import ModelDims
save_model(sys.argv[1], new_untrained_model(0), ModelDims(), untrained_card(0))
EOF
  MODEL_ARGS=(--model "$TMP/random.pt")
  export SOUNDALIKE_MODEL="$TMP/random.pt"  # for the GUI
  echo "     model: random init (the bundle has no resources/models/default.pt)"
fi
step embed timeout 300 "$EXE" embed "$TMP/query.wav" -o "$TMP/query.npz" "${MODEL_ARGS[@]}"
check embed '
import sys, numpy as np
with np.load(sys.argv[1] + "/query.npz") as f:
    assert f["embeddings"].shape == (1, 256), f["embeddings"].shape
    assert list(f["dimensions"]) == ["genre", "mood", "instrument", "tempo"]
    assert np.isfinite(f["embeddings"]).all()
'
# The same query as AAC in MP4 (a temp track ripped from a video): the bundle's PyAV decodes it,
# no ffmpeg needed; its vector is the WAV's to within AAC's loss.
"$PY" - "$TMP/query.wav" "$TMP/query.m4a" <<'EOF'
import sys
import soundfile as sf
sys.path.insert(0, ".")
from tests.synth_audio import write_m4a
samples, rate = sf.read(sys.argv[1], dtype="float32")
write_m4a(sys.argv[2], samples, rate)
EOF
step embed-m4a timeout 300 "$EXE" embed "$TMP/query.m4a" -o "$TMP/query-m4a.npz" "${MODEL_ARGS[@]}"
check embed-m4a '
import sys, numpy as np
with np.load(sys.argv[1] + "/query.npz") as wav, np.load(sys.argv[1] + "/query-m4a.npz") as m4a:
    cosine = float(wav["embeddings"][0] @ m4a["embeddings"][0]) / 4  # four unit blocks
    assert cosine > 0.98, cosine
'

# 3. index the bundled demo library, then search it
step index timeout 600 "$EXE" index "$RES/demo" --db "$TMP/lib.db" "${MODEL_ARGS[@]}"
if [ ${#MODEL_ARGS[@]} -eq 0 ]; then  # the shipped model has its ONNX export: which runtime indexed?
  check runtime '
import sys
try:
    import openvino
    bf16 = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
except ImportError:  # installed on x86-64 only
    bf16 = False
err = open(sys.argv[1] + "/index.err").read()
want = "runtime=openvino" if bf16 else "runtime=onnx"  # OpenVINO (bf16) only where the CPU has bf16 units
assert want in err, (want, err)
'
fi
N_DEMO=$(find "$RES/demo" -name '*.ogg' | wc -l)
step search timeout 300 "$EXE" search "$TMP/query.wav" --db "$TMP/lib.db" -k 5 --json "${MODEL_ARGS[@]}"
check search "
import json, sys
results = json.load(open(sys.argv[1] + '/search.out'))
assert len(results) == min(5, $N_DEMO), len(results)
assert set(results[0]) >= {'path', 'score', 'offset_s', 'dimensions'}, results[0]
assert set(results[0]['dimensions']) == {'genre', 'mood', 'instrument', 'tempo'}
"

# 4. timelines: cues on an .otio and an FCP 7 XML cut (the bundled OpenTimelineIO adapters).
#    The temp file is a WAV copy of a demo track's first 30 s; its one music cue (10-25 s) must
#    find that demo track first, about 10 s in.
DEMO_TRACK=$(find "$RES/demo" -name '*.ogg' | sort | head -n 1)
"$PY" - "$TMP" "$DEMO_TRACK" <<'EOF2'
import sys
import opentimelineio as otio
import soundfile as sf
tmp, track = sys.argv[1], sys.argv[2]
audio, sr = sf.read(track, dtype="float32")
sf.write(tmp + "/temp.wav", audio[: 30 * sr], sr)
rate = 25
seconds = lambda s: otio.opentime.RationalTime(s * rate, rate)  # noqa: E731
media = otio.schema.ExternalReference(target_url=tmp + "/temp.wav",
                                      available_range=otio.opentime.TimeRange(seconds(0), seconds(30)))
music = otio.schema.Track(name="Music", kind=otio.schema.TrackKind.Audio)
music.append(otio.schema.Clip(name="temp cue", media_reference=media,
                              source_range=otio.opentime.TimeRange(seconds(10), seconds(15))))
timeline = otio.schema.Timeline(name="smoke")
timeline.tracks.append(music)
otio.adapters.write_to_file(timeline, tmp + "/cut.otio")
otio.adapters.write_to_file(timeline, tmp + "/cut.xml")
EOF2
for FORMAT in otio xml; do
  step "cues-$FORMAT" timeout 300 "$EXE" cues "$TMP/cut.$FORMAT" --db "$TMP/lib.db" -k 3 --json "${MODEL_ARGS[@]}"
  check "cues-$FORMAT" "
import json, os, sys
cues = json.load(open(sys.argv[1] + '/cues-$FORMAT.out'))
best = cues[0]['results'][0]
assert len(cues) == 1 and os.path.samefile(best['path'], '$DEMO_TRACK'), best['path']
assert abs(best['offset_s'] - 10.0) <= 3.0, best['offset_s']
"
done

# 5. the GUI starts offscreen and quits cleanly
step gui env QT_QPA_PLATFORM=offscreen SOUNDALIKE_QUIT_AFTER_MS=1500 timeout 120 "$EXE"
if command -v xvfb-run >/dev/null; then  # the real X11 (xcb) platform plugin and its libraries
  step gui-xcb env -u QT_QPA_PLATFORM SOUNDALIKE_QUIT_AFTER_MS=1500 timeout 120 xvfb-run -a "$EXE"
fi

du -sh "$DIST" | awk '{print "     bundle size: " $1}'
echo "bundle-smoke: all passed"
