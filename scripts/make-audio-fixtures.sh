#!/usr/bin/env bash
# Regenerates tests/fixtures/audio: one second of a 440 Hz tone (mono, 22.05 kHz) in every
# upload format, encoded by a real ffmpeg (the static build in the imageio-ffmpeg wheel).
# The files are committed; run this only to change them (`just fixtures`).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-tools
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q 'imageio-ffmpeg==0.8.1'
ffmpeg=$("$venv/bin/python" -c 'import imageio_ffmpeg as i; print(i.get_ffmpeg_exe())')
out=tests/fixtures/audio
mkdir -p "$out"
tone=(-f lavfi -i "sine=frequency=440:sample_rate=22050:duration=1" -ac 1 -map_metadata -1 -fflags +bitexact)
"$ffmpeg" -loglevel error -y "${tone[@]}" -c:a libmp3lame -b:a 64k "$out/tone.mp3"
"$ffmpeg" -loglevel error -y "${tone[@]}" -c:a flac "$out/tone.flac"
"$ffmpeg" -loglevel error -y "${tone[@]}" -c:a libvorbis -q:a 2 "$out/tone.ogg"
"$ffmpeg" -loglevel error -y "${tone[@]}" -c:a aac -b:a 48k "$out/tone.m4a"
"$ffmpeg" -loglevel error -y "${tone[@]}" -c:a aac -b:a 48k -f adts "$out/tone.aac"
ls -l "$out"
