//! Chatterbox end to end on the stand-in graphs (`tests/fixtures/chatterbox-standins`):
//! every `golden.json` case of the Python reference loop, plus loader, sampler, cache and
//! voice-conversion properties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use models::chatterbox::{
    Chatterbox, ChatterboxSettings, ConversionOptions, Family, GenerationParams, Precision,
    SAMPLE_RATE, STOP_SPEECH, VoiceConditioning,
};
use models::{ExecutionProvider, ModelError, OnnxRuntime, RuntimeSettings};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chatterbox-standins")
}

/// The ONNX Runtime library: `ORT_DYLIB_PATH`, else the copy `./scripts/test.sh` fetches.
fn runtime() -> Arc<OnnxRuntime> {
    static RUNTIME: OnceLock<Arc<OnnxRuntime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let fetched = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../.cache/models/onnxruntime-1.32.0/libonnxruntime.so");
            let library = std::env::var_os("ORT_DYLIB_PATH")
                .map(PathBuf::from)
                .filter(|path| path.is_file())
                .unwrap_or(fetched);
            assert!(
                library.is_file(),
                "ONNX Runtime not found (ORT_DYLIB_PATH unset or missing, and no {}); run ./scripts/test.sh once to fetch it",
                library.display()
            );
            OnnxRuntime::load(RuntimeSettings {
                library,
                provider: ExecutionProvider::Cpu,
                intra_threads: 1,
                spinning: models::Spinning::default(),
            })
            .unwrap()
        })
        .clone()
}

fn load(family: &str, precision: Precision) -> Chatterbox {
    Chatterbox::load(
        &runtime(),
        &ChatterboxSettings {
            dir: fixtures().join(family),
            precision,
            lm_threads: 1,
        },
    )
    .unwrap()
}

fn original() -> &'static Chatterbox {
    static MODEL: OnceLock<Chatterbox> = OnceLock::new();
    MODEL.get_or_init(|| load("original", Precision::Fp32))
}

fn turbo() -> &'static Chatterbox {
    static MODEL: OnceLock<Chatterbox> = OnceLock::new();
    MODEL.get_or_init(|| load("turbo", Precision::Fp32))
}

fn read_wav(name: &str) -> Vec<f32> {
    let mut reader = hound::WavReader::open(fixtures().join(name)).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (SAMPLE_RATE, 1, 16)
    );
    reader
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect()
}

/// `make_golden.py`'s `sine_mix`, for references of other lengths.
fn sine_mix(seconds: f64, freqs: &[f64], amps: &[f64], phase_step: f64) -> Vec<f32> {
    let count = (seconds * f64::from(SAMPLE_RATE)).round() as usize;
    (0..count)
        .map(|n| {
            let t = n as f64 / f64::from(SAMPLE_RATE);
            let x: f64 = freqs
                .iter()
                .zip(amps)
                .enumerate()
                .map(|(k, (f, a))| {
                    a * (2.0 * std::f64::consts::PI * f * t + phase_step * k as f64).sin()
                })
                .sum();
            (x * (0.6 + 0.4 * (2.0 * std::f64::consts::PI * 0.7 * t).sin())) as f32
        })
        .collect()
}

fn reference_voice(model: &Chatterbox) -> VoiceConditioning {
    model.encode_voice(&read_wav("ref_7s.wav")).unwrap()
}

/// The reference loop's defaults (greedy, repetition penalty 1.2, exaggeration 0.5).
fn greedy() -> GenerationParams {
    GenerationParams {
        temperature: 0.0,
        top_p: 1.0,
        min_p: 0.05,
        top_k: 1000,
        repetition_penalty: 1.2,
        cfg_weight: 0.0,
        exaggeration: 0.5,
        seed: 0,
        max_new_tokens: 1000,
    }
}

fn abs_sum_first_960(samples: &[f32]) -> f64 {
    samples.iter().take(960).map(|x| f64::from(x.abs())).sum()
}

fn golden_cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("golden.json")).unwrap();
    let golden: Value = serde_json::from_str(&text).unwrap();
    golden["cases"].as_array().unwrap().clone()
}

fn option(args: &[Value], flag: &str) -> Option<String> {
    let position = args.iter().position(|arg| arg.as_str() == Some(flag))?;
    Some(args[position + 1].as_str().unwrap().to_owned())
}

#[test]
fn every_golden_case_matches_the_reference_loop() {
    let cases = golden_cases();
    assert_eq!(cases.len(), 9);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];
        let args = case["args"].as_array().unwrap();
        let lm = option(args, "--lm");
        let fp16;
        let model = match (case["model_dir"].as_str().unwrap(), lm.as_deref()) {
            ("original", None) => original(),
            ("original", Some("language_model_fp16.onnx")) => {
                fp16 = load("original", Precision::Fp16);
                &fp16
            }
            ("turbo", None) => turbo(),
            other => panic!("{name}: unexpected case {other:?}"),
        };
        let voice = reference_voice(model);
        assert_eq!(
            voice.audio_tokens().len() as u64,
            expected["prompt_tokens"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            voice.speaker_features_shape()[1] as u64,
            expected["speaker_feature_frames"].as_u64().unwrap(),
            "{name}"
        );
        let cond: Vec<u64> = serde_json::from_value(expected["cond_shape"].clone()).unwrap();
        assert_eq!(
            voice.audio_features_shape().map(|d| d as u64).to_vec(),
            cond,
            "{name}"
        );

        let samples = if let Some(source) = case["source"].as_str() {
            model
                .convert(&read_wav(source), &voice, &ConversionOptions::default())
                .unwrap()
                .samples
        } else {
            let mut params = greedy();
            if let Some(weight) = option(args, "--cfg-weight") {
                params.cfg_weight = weight.parse().unwrap();
            }
            if let Some(exaggeration) = option(args, "--exaggeration") {
                params.exaggeration = exaggeration.parse().unwrap();
            }
            let text = case["text"].as_str().unwrap();
            let generation = model.generate(text, &voice, &params).unwrap();
            let tokens: Vec<i64> =
                serde_json::from_value(expected["speech_tokens"].clone()).unwrap();
            assert_eq!(generation.speech_tokens.len(), tokens.len(), "{name}");
            assert_eq!(generation.speech_tokens, tokens, "{name}");
            assert_eq!(
                generation.stopped,
                expected["stopped"].as_bool().unwrap(),
                "{name}"
            );
            assert_eq!(
                generation.prompt_length as u64,
                expected["prefill_length"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(generation.waveform.sample_rate, SAMPLE_RATE);
            generation.waveform.samples
        };
        assert_eq!(
            samples.len() as u64,
            expected["num_samples"].as_u64().unwrap(),
            "{name}"
        );
        let checksum = expected["abs_sum_first_960"].as_f64().unwrap();
        let actual = abs_sum_first_960(&samples);
        assert!(
            (actual - checksum).abs() < 1e-3,
            "{name}: abs_sum_first_960 {actual} != {checksum}"
        );
    }
}

#[test]
fn families_and_caches_are_read_from_the_graphs() {
    assert_eq!(original().family(), Family::Original);
    assert_eq!(original().kv_tensor_count(), 60);
    assert_eq!(turbo().family(), Family::Turbo);
    assert_eq!(turbo().kv_tensor_count(), 48);
    let fp16 = load("original", Precision::Fp16);
    assert_eq!(fp16.kv_tensor_count(), 60);
}

#[test]
fn an_f16_cache_gives_the_same_tokens() {
    let fp16 = load("original", Precision::Fp16);
    let voice = reference_voice(original());
    let text = "Hello there, world.";
    let wide = original().generate(text, &voice, &greedy()).unwrap();
    let narrow = fp16.generate(text, &voice, &greedy()).unwrap();
    assert_eq!(wide.speech_tokens.len(), 42);
    assert_eq!(narrow.speech_tokens, wide.speech_tokens);
    assert_eq!(narrow.waveform, wide.waveform);
}

#[test]
fn stop_token_is_not_returned_and_the_cap_holds() {
    let model = original();
    let voice = reference_voice(model);
    let full = model.generate("Hi.", &voice, &greedy()).unwrap();
    assert!(full.stopped);
    assert_eq!(full.speech_tokens.len(), 10);
    assert!(!full.speech_tokens.contains(&STOP_SPEECH));
    assert!(full.speech_tokens.iter().all(|&t| (0..6561).contains(&t)));
    // 33 cond rows + 8 ids: the first mask length; each step adds one (checked per step
    // against every present.* shape, so 10 steps passing proves the cache grew).
    assert_eq!(full.prompt_length, 41);

    let capped = GenerationParams {
        max_new_tokens: 4,
        ..greedy()
    };
    let short = model.generate("Hi.", &voice, &capped).unwrap();
    assert!(!short.stopped);
    assert_eq!(short.speech_tokens, full.speech_tokens[..4]);
    assert_eq!(short.waveform.samples.len(), 4 * 960);
}

#[test]
fn exaggeration_reaches_the_graph() {
    let model = original();
    let voice = reference_voice(model);
    let mild = model.generate("Hi there.", &voice, &greedy()).unwrap();
    let strong = GenerationParams {
        exaggeration: 1.5,
        ..greedy()
    };
    let strong = model.generate("Hi there.", &voice, &strong).unwrap();
    assert_eq!(mild.speech_tokens.len(), strong.speech_tokens.len());
    assert_ne!(mild.speech_tokens, strong.speech_tokens);
}

#[test]
fn seeded_sampling_is_reproducible() {
    let model = original();
    let voice = reference_voice(model);
    let sampled = |seed| {
        let params = GenerationParams {
            temperature: 0.8,
            min_p: 0.0,
            seed,
            ..greedy()
        };
        model
            .generate("Hello there, world.", &voice, &params)
            .unwrap()
    };
    let first = sampled(1);
    let again = sampled(1);
    assert_eq!(first.speech_tokens, again.speech_tokens);
    assert_eq!(first.waveform.samples, again.waveform.samples);
    let others: Vec<_> = (2..6).map(|seed| sampled(seed).speech_tokens).collect();
    assert!(others.iter().any(|tokens| tokens != &first.speech_tokens));
}

#[test]
fn turbo_and_cfg_sampling_are_reproducible() {
    let turbo_voice = reference_voice(turbo());
    let turbo_params = GenerationParams {
        temperature: 0.8,
        top_k: 50,
        top_p: 0.95,
        seed: 11,
        ..greedy()
    };
    let first = turbo()
        .generate("Hello there.", &turbo_voice, &turbo_params)
        .unwrap();
    let again = turbo()
        .generate("Hello there.", &turbo_voice, &turbo_params)
        .unwrap();
    assert_eq!(first, again);
    assert!(first.speech_tokens.len() <= 1000);

    let voice = reference_voice(original());
    let cfg_params = GenerationParams {
        temperature: 0.8,
        cfg_weight: 0.5,
        min_p: 0.05,
        seed: 5,
        ..greedy()
    };
    let first = original()
        .generate("Hi there.", &voice, &cfg_params)
        .unwrap();
    let again = original()
        .generate("Hi there.", &voice, &cfg_params)
        .unwrap();
    assert_eq!(first, again);
}

#[test]
fn turbo_ignores_cfg_and_exaggeration() {
    let model = turbo();
    let voice = reference_voice(model);
    let plain = model
        .generate("Hello there, world.", &voice, &greedy())
        .unwrap();
    let ignored = GenerationParams {
        cfg_weight: 0.5,
        exaggeration: 1.5,
        ..greedy()
    };
    let other = model
        .generate("Hello there, world.", &voice, &ignored)
        .unwrap();
    assert_eq!(plain, other);
    assert_eq!(plain.speech_tokens.len(), 38);
    assert_eq!(plain.waveform.samples.len(), (38 + 3) * 960);
}

#[test]
fn a_voice_from_another_family_is_rejected() {
    let voice = reference_voice(original());
    let error = turbo().generate("Hi.", &voice, &greedy()).unwrap_err();
    assert!(matches!(error, ModelError::InvalidInput(_)), "{error}");
    let error = turbo()
        .convert(
            &read_wav("src_3s.wav"),
            &voice,
            &ConversionOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(error, ModelError::InvalidInput(_)), "{error}");
}

#[test]
fn bad_inputs_are_rejected() {
    let model = original();
    let error = model.encode_voice(&[0.1; 959]).unwrap_err();
    assert!(matches!(error, ModelError::InvalidInput(_)), "{error}");
    let mut noisy = read_wav("ref_7s.wav");
    noisy[5] = f32::NAN;
    assert!(matches!(
        model.encode_voice(&noisy),
        Err(ModelError::InvalidInput(_))
    ));
    let voice = reference_voice(model);
    for params in [
        GenerationParams {
            exaggeration: 2.5,
            ..greedy()
        },
        GenerationParams {
            temperature: -1.0,
            ..greedy()
        },
        GenerationParams {
            max_new_tokens: 0,
            ..greedy()
        },
        GenerationParams {
            top_p: f32::NAN,
            ..greedy()
        },
    ] {
        let error = model.generate("Hi.", &voice, &params).unwrap_err();
        assert!(matches!(error, ModelError::InvalidInput(_)), "{error}");
    }
}

#[test]
fn a_trimmed_reference_gives_whole_tokens_and_long_ones_are_capped() {
    let model = original();
    let mut audio = read_wav("ref_7s.wav");
    audio.truncate(168_000 - 500);
    let voice = model.encode_voice(&audio).unwrap();
    assert_eq!(voice.audio_tokens().len(), 174);
    assert_eq!(voice.speaker_features_shape()[1], 348);

    let long = sine_mix(15.0, &[220.0, 330.0, 445.0], &[0.3, 0.2, 0.15], 0.5);
    let voice = model.encode_voice(&long).unwrap();
    assert_eq!(voice.audio_tokens().len(), 250);
    assert_eq!(voice.speaker_features_shape()[1], 500);
    let generation = model.generate("Hi.", &voice, &greedy()).unwrap();
    assert_eq!(generation.speech_tokens.len(), 10);
    assert_eq!(generation.waveform.samples.len(), 9_600);
}

#[test]
fn conditioning_survives_a_byte_round_trip() {
    let model = original();
    let voice = reference_voice(model);
    let restored = VoiceConditioning::from_bytes(&voice.to_bytes()).unwrap();
    assert_eq!(restored, voice);
    let params = GenerationParams {
        temperature: 0.8,
        seed: 3,
        ..greedy()
    };
    let before = model.generate("Hi there.", &voice, &params).unwrap();
    let after = model.generate("Hi there.", &restored, &params).unwrap();
    assert_eq!(before, after);
}

#[test]
fn conversion_is_chunked_and_crossfaded() {
    let model = original();
    let target = reference_voice(model);
    let source = read_wav("src_3s.wav");
    assert_eq!(source.len(), 72_000);
    let whole = model
        .convert(&source, &target, &ConversionOptions::default())
        .unwrap();
    assert_eq!(whole.samples.len(), 72_000);
    assert_eq!(whole.sample_rate, SAMPLE_RATE);

    // 1 s chunks stepping by 0.9 s: [0, 1), [0.9, 1.9), [1.8, 2.8), [2.7, 3.0); each
    // decoded chunk lines up with its span, so the joined length is the source's.
    let chunked = ConversionOptions {
        chunk_sec: 1.0,
        overlap_sec: 0.1,
    };
    let joined = model.convert(&source, &target, &chunked).unwrap();
    assert_eq!(joined.samples.len(), 72_000);
    // Before the first overlap the audio is the first chunk's alone (the stand-in encoder
    // is frame-local, so that matches the unchunked conversion).
    assert_eq!(joined.samples[..21_600], whole.samples[..21_600]);
    // Inside the overlap the two chunks' own conversions are mixed linearly.
    let single = |range: std::ops::Range<usize>| {
        model
            .convert(&source[range], &target, &ConversionOptions::default())
            .unwrap()
            .samples
    };
    let first = single(0..24_000);
    let second = single(21_600..45_600);
    assert_eq!(first[..21_600], joined.samples[..21_600]);
    for index in 0..2_400 {
        let weight = (index + 1) as f32 / 2_401.0;
        let mixed = first[21_600 + index] * (1.0 - weight) + second[index] * weight;
        assert!(
            (joined.samples[21_600 + index] - mixed).abs() < 1e-6,
            "{index}"
        );
    }
    assert_eq!(joined.samples[24_000..43_200], second[2_400..21_600]);

    // A source that is not a whole number of tokens keeps its length.
    let odd = model.convert(&source[..71_500], &target, &chunked).unwrap();
    assert_eq!(odd.samples.len(), 71_500);

    for (chunk_sec, overlap_sec) in [(1.0, 1.0), (1.0, 1.5)] {
        let options = ConversionOptions {
            chunk_sec,
            overlap_sec,
        };
        let error = model.convert(&source, &target, &options).unwrap_err();
        assert!(matches!(error, ModelError::InvalidInput(_)), "{error}");
    }
    let error = model
        .convert(&source[..500], &target, &ConversionOptions::default())
        .unwrap_err();
    assert!(matches!(error, ModelError::InvalidInput(_)), "{error}");
}

#[test]
fn missing_files_are_named() {
    let copy = tempfile::tempdir().unwrap();
    let bundle = copy.path().join("original");
    std::fs::create_dir_all(bundle.join("onnx")).unwrap();
    let source = fixtures().join("original");
    std::fs::copy(source.join("tokenizer.json"), bundle.join("tokenizer.json")).unwrap();
    for entry in std::fs::read_dir(source.join("onnx")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), bundle.join("onnx").join(entry.file_name())).unwrap();
    }
    Chatterbox::bundle_status(&bundle, Precision::Fp32).unwrap();
    Chatterbox::bundle_status(&bundle, Precision::Fp16).unwrap();

    // No q4 language model: the precision is not silently downgraded.
    let error = Chatterbox::bundle_status(&bundle, Precision::Q4).unwrap_err();
    let ModelError::MissingFile(path) = error else {
        panic!("{error}")
    };
    assert_eq!(path, bundle.join("onnx/language_model_q4.onnx"));

    let sidecar = bundle.join("onnx/conditional_decoder.onnx_data");
    std::fs::remove_file(&sidecar).unwrap();
    for precision in [Precision::Fp32, Precision::Fp16] {
        let error = Chatterbox::bundle_status(&bundle, precision).unwrap_err();
        assert!(
            matches!(&error, ModelError::MissingFile(path) if *path == sidecar),
            "{error}"
        );
    }
    let settings = ChatterboxSettings {
        dir: bundle.clone(),
        precision: Precision::Fp32,
        lm_threads: 1,
    };
    let error = Chatterbox::load(&runtime(), &settings).unwrap_err();
    assert!(
        error.to_string().contains(&sidecar.display().to_string()),
        "{error}"
    );

    std::fs::remove_file(bundle.join("tokenizer.json")).unwrap();
    let error = Chatterbox::bundle_status(&bundle, Precision::Fp32).unwrap_err();
    assert!(matches!(error, ModelError::MissingFile(_)), "{error}");
}

#[test]
fn the_engine_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Chatterbox>();
    shareable::<VoiceConditioning>();
    let model = original();
    let voice = reference_voice(model);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| model.generate("Hi.", &voice, &greedy()).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.windows(2).all(|pair| pair[0] == pair[1]));
}
