"""Python side of models/benches/piper.rs: the piper-tts package on the same voice and texts.

Loads the voice with piper-tts's defaults (its bundled espeak-ng, ONNX Runtime's default
thread count) and prints {"load_s", "versions"} as one JSON line. Then it answers one
command per stdin line with one JSON line, so the Rust side can alternate its own runs with
these on a shared machine:
  ttfa  -> {"ttfa_s"}: time to the first audio chunk of the short sentence
  total -> {"total_s", "audio_s"}: every sentence of the list, each as a separate request
  rss   -> {"peak_rss_kib"}: this process's peak resident set
  stages TEXT -> {"phonemize_s", "graph_s", "synthesize_s"}: one timing of each stage for
           TEXT's first sentence (tests/benches/piper_service.rs: where a request's time goes)
If piper-tts is missing it prints {"error": "..."} and exits 0.

Usage: python piper_bench.py --model VOICE.onnx --sentences FILE.json [--short TEXT]
"""

import argparse
import json
import resource
import sys
import time


def reply(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--sentences", required=True)
    parser.add_argument("--short", default="Hello world.")
    args = parser.parse_args()
    try:
        from importlib.metadata import version

        import onnxruntime
        from piper import PiperVoice
    except ImportError as error:  # reported, not raised: the Rust side still prints its figures
        reply({"error": str(error)})
        return

    with open(args.sentences, encoding="utf-8") as f:
        sentences = json.load(f)

    start = time.perf_counter()
    voice = PiperVoice.load(args.model)
    load_s = time.perf_counter() - start
    reply(
        {
            "load_s": load_s,
            "versions": {
                "python": sys.version.split()[0],
                "piper-tts": version("piper-tts"),
                "onnxruntime": onnxruntime.__version__,
            },
        }
    )

    for line in sys.stdin:
        command = line.strip()
        if command == "ttfa":
            begin = time.perf_counter()
            chunk = next(iter(voice.synthesize(args.short)))
            elapsed = time.perf_counter() - begin
            assert len(chunk.audio_float_array) > 0
            reply({"ttfa_s": elapsed})
        elif command == "total":
            begin = time.perf_counter()
            samples = 0
            for sentence in sentences:
                for chunk in voice.synthesize(sentence):
                    samples += len(chunk.audio_float_array)
            elapsed = time.perf_counter() - begin
            reply({"total_s": elapsed, "audio_s": samples / voice.config.sample_rate})
        elif command.startswith("stages "):
            text = command[len("stages ") :]
            # Pauses between the stages: ONNX Runtime's idle threads spin for a while after
            # a run, and must not eat into the next stage's (or the other side's) time.
            time.sleep(0.1)
            begin = time.perf_counter()
            phonemes = voice.phonemize(text)
            phonemize_s = time.perf_counter() - begin
            ids = voice.phonemes_to_ids(phonemes[0])
            time.sleep(0.1)
            begin = time.perf_counter()
            voice.phoneme_ids_to_audio(ids)
            graph_s = time.perf_counter() - begin
            time.sleep(0.1)
            begin = time.perf_counter()
            for _ in voice.synthesize(text):
                pass
            synthesize_s = time.perf_counter() - begin
            reply(
                {
                    "phonemize_s": phonemize_s,
                    "graph_s": graph_s,
                    "synthesize_s": synthesize_s,
                }
            )
        elif command == "rss":
            reply({"peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
        else:
            reply({"error": f"unknown command {command!r}"})


if __name__ == "__main__":
    main()
