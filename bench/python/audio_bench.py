"""Python side of audio/benches/audio_vs_python.rs: the original project's audio stack.

Times the same operations the Rust bench times, on the WAV files it wrote, and prints
one JSON object on stdout: {"versions": {...}, "timings_s": {name: median seconds}}.
If a package is missing it prints {"error": "..."} and exits 0, so the Rust side can
report Rust timings only.

Usage: python audio_bench.py --dir DIR [--iterations N]
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
import warnings


def median_seconds(fn, iterations):
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()

    try:
        warnings.filterwarnings("ignore")
        import imageio_ffmpeg
        import librosa
        import numpy as np
        import soundfile as sf
        from audiostretchy.stretch import stretch_audio
        from pydub import AudioSegment
    except Exception as exc:  # noqa: BLE001 - any import failure means "no Python side"
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 0

    # pydub needs an ffmpeg binary for mp3; the imageio-ffmpeg wheel ships one.
    AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()

    d = args.dir
    n = args.iterations
    speech_path = os.path.join(d, "speech30.wav")
    clips = sorted(f for f in os.listdir(os.path.join(d, "clips")) if f.endswith(".wav"))
    clip_paths = [os.path.join(d, "clips", f) for f in clips]
    out_dir = os.path.join(d, "py_out")
    os.makedirs(out_dir, exist_ok=True)

    y, sr = sf.read(speech_path, dtype="float32")
    timings = {}

    # librosa's first time_stretch in a process is very slow (lazy imports, numba); warm it.
    librosa.effects.time_stretch(y[: sr * 2], rate=1.25)
    librosa.effects.split(y[: sr * 2], top_db=40, frame_length=2048, hop_length=512)

    for speed in (0.8, 1.25):
        timings[f"stretch_{speed}_librosa"] = median_seconds(lambda: librosa.effects.time_stretch(y, rate=speed), n)
        out = os.path.join(out_dir, f"stretch_{speed}.wav")
        # audiostretchy's ratio is the length factor (1/speed); it is file to file.
        timings[f"stretch_{speed}_audiostretchy"] = median_seconds(
            lambda: stretch_audio(speech_path, out, ratio=1.0 / speed), n
        )

    def trim_like_original():
        # The original's trim_audio: split at top_db 40, trim edges above 200 ms to a 50 ms pad.
        intervals = librosa.effects.split(y, top_db=40, frame_length=2048, hop_length=512)
        start, end = intervals[0][0], intervals[-1][1]
        pad = int(0.05 * sr)
        threshold = 0.2 * sr
        lead = start - pad if start > threshold else 0
        tail = len(y) - (end + pad) if len(y) - end > threshold else 0
        return y[lead : len(y) - tail].copy()

    timings["trim_librosa"] = median_seconds(trim_like_original, n)

    def concat_pydub(segments, crossfade, pause):
        # The original's basic /concat path: -20 dBFS per clip, then crossfade-append,
        # then (with a pause) a random pause after every clip from the second onward.
        rng = random.Random(42)
        out = None
        for seg in segments:
            seg = seg.apply_gain(-20.0 - seg.dBFS)
            if out is None:
                out = seg
                continue
            out = out.append(seg, crossfade=crossfade) if crossfade else out + seg
            if pause:
                out += AudioSegment.silent(duration=max(50, pause + rng.randint(-100, 100)), frame_rate=seg.frame_rate)
        return out

    loaded = [AudioSegment.from_wav(p) for p in clip_paths]
    timings["concat_pauses_mem_pydub"] = median_seconds(lambda: concat_pydub(loaded, 0, 400), n)
    timings["concat_crossfade_mem_pydub"] = median_seconds(lambda: concat_pydub(loaded, 100, 0), n)
    timings["concat_both_mem_pydub"] = median_seconds(lambda: concat_pydub(loaded, 100, 400), n)

    def concat_files():
        segments = [AudioSegment.from_wav(p) for p in clip_paths]
        concat_pydub(segments, 100, 400).export(os.path.join(out_dir, "concat.wav"), format="wav")

    timings["concat_both_files_pydub"] = median_seconds(concat_files, n)

    speech_segment = AudioSegment.from_wav(speech_path)
    mp3_out = os.path.join(out_dir, "speech30.mp3")
    timings["mp3_pydub"] = median_seconds(lambda: speech_segment.export(mp3_out, format="mp3", bitrate="320k"), n)

    versions = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "librosa": librosa.__version__,
        "soundfile": sf.__version__,
        "imageio_ffmpeg": imageio_ffmpeg.__version__,
    }
    for name in ("audiostretchy", "pydub"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:  # noqa: BLE001
            versions[name] = "?"
    print(json.dumps({"versions": versions, "timings_s": timings}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
