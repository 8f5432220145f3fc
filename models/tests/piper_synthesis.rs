//! End-to-end Piper synthesis with the joe voice: rate, plausible duration, audible output,
//! length that grows with the text, options and sentence streaming.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod piper_support;

use models::piper::PiperOptions;

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

#[test]
fn hello_world_is_plausible_speech() {
    let voice = piper_support::joe();
    assert_eq!(voice.sample_rate(), 22050);
    let audio = voice
        .synthesize("Hello world.", &PiperOptions::default())
        .unwrap();
    assert_eq!(audio.sample_rate, 22050);
    let seconds = audio.duration_seconds();
    assert!((0.5..=3.0).contains(&seconds), "{seconds} s");
    assert!(rms(&audio.samples) > 0.02, "rms {}", rms(&audio.samples));
    assert!(audio.samples.iter().all(|s| (-1.0..=1.0).contains(s)));
}

#[test]
fn longer_text_gives_proportionally_longer_audio() {
    let voice = piper_support::joe();
    let options = PiperOptions {
        noise_scale: Some(0.0),
        noise_w: Some(0.0),
        ..PiperOptions::default()
    };
    let one = "The quick brown fox jumps over the lazy dog.";
    let short = voice.synthesize(one, &options).unwrap().duration_seconds();
    let long = voice
        .synthesize(&[one; 4].join(" "), &options)
        .unwrap()
        .duration_seconds();
    let ratio = long / short;
    assert!((3.5..=4.5).contains(&ratio), "{short} s vs {long} s");
}

#[test]
fn length_scale_slows_speech_and_silence_is_inserted_between_sentences() {
    let voice = piper_support::joe();
    let quiet = PiperOptions {
        noise_scale: Some(0.0),
        noise_w: Some(0.0),
        ..PiperOptions::default()
    };
    let text = "Good morning. See you soon.";
    let base = voice.synthesize(text, &quiet).unwrap();
    let slow = voice
        .synthesize(
            text,
            &PiperOptions {
                length_scale: Some(1.5),
                ..quiet
            },
        )
        .unwrap();
    let ratio = slow.duration_seconds() / base.duration_seconds();
    assert!((1.3..=1.7).contains(&ratio), "ratio {ratio}");
    let spaced = voice
        .synthesize(
            text,
            &PiperOptions {
                sentence_silence_seconds: 0.5,
                ..quiet
            },
        )
        .unwrap();
    // One gap between the two sentences; with no noise the speech itself is identical.
    assert_eq!(spaced.samples.len(), base.samples.len() + 11025);
}

#[test]
fn sentences_are_delivered_one_by_one() {
    let voice = piper_support::joe();
    let mut lengths = Vec::new();
    voice
        .synthesize_each_sentence(
            "Hi. How are you? Fine, thanks!",
            &PiperOptions::default(),
            &mut |sentence| {
                assert_eq!(sentence.waveform.sample_rate, 22050);
                lengths.push(sentence.waveform.samples.len());
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(lengths.len(), 3);
    assert!(lengths.iter().all(|&n| n > 2205), "{lengths:?}");
    // The callback's error stops synthesis and is returned.
    let mut calls = 0;
    let result =
        voice.synthesize_each_sentence("One. Two. Three.", &PiperOptions::default(), &mut |_| {
            calls += 1;
            Err(models::ModelError::InvalidInput("client went away".into()))
        });
    assert!(result.is_err());
    assert_eq!(calls, 1);
}

#[test]
fn phonemes_are_placed_in_the_audio() {
    let voice = piper_support::joe();
    assert!(
        voice.has_phoneme_timings(),
        "the joe voice's durations are exposed at load"
    );
    let mut sentences = Vec::new();
    voice
        .synthesize_each_sentence(
            "Out of the house, it is kind of nice.",
            &PiperOptions::default(),
            &mut |sentence| {
                sentences.push(sentence);
                Ok(())
            },
        )
        .unwrap();
    let sentence = &sentences[0];
    let phonemes = &sentence.phonemes;
    assert!(phonemes.len() > 20, "{phonemes:?}");
    // Contiguous, in order, inside the audio, ending before its trailing `$`.
    for pair in phonemes.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
    let len = sentence.waveform.samples.len();
    assert!(phonemes.last().unwrap().end <= len);
    assert!(phonemes[0].start < len / 4);
    // Word boundaries are spaces; the comma's pause is silence in the audio.
    let comma = phonemes.iter().find(|p| p.phoneme == ",").unwrap();
    let pause = &sentence.waveform.samples[comma.start..comma.end];
    let rms = (pause.iter().map(|s| s * s).sum::<f32>() / pause.len().max(1) as f32).sqrt();
    assert!(rms < 0.02, "comma pause rms {rms}");
}

#[test]
fn empty_or_unspeakable_text_gives_no_audio_and_no_error() {
    let voice = piper_support::joe();
    assert!(voice.sentence_phoneme_ids("   ").unwrap().is_empty());
    let audio = voice.synthesize("", &PiperOptions::default()).unwrap();
    assert!(audio.samples.is_empty());
}

#[test]
fn hostile_text_is_passed_safely_to_espeak() {
    let voice = piper_support::joe();
    // Shell metacharacters, option-like words and control characters are just text.
    let ids = voice
        .sentence_phoneme_ids("--help; $(rm -rf /) `id` | cat\u{0}\r\n-v fr. qxqxq. Done.")
        .unwrap();
    assert!(!ids.is_empty());
    assert!(
        ids.iter()
            .all(|s| s.first() == Some(&1) && s.last() == Some(&2))
    );
}

#[test]
fn a_missing_program_is_a_phonemizer_error() {
    let voice = models::piper::PiperVoice::load(
        &piper_support::runtime(),
        &piper_support::joe_model(),
        None,
    )
    .unwrap()
    .with_phonemizer(models::piper::EspeakPhonemizer::new().with_program("/nonexistent/espeak-ng"));
    let error = voice.sentence_phoneme_ids("Hello.").unwrap_err();
    assert!(
        matches!(error, models::ModelError::Phonemizer(_)),
        "{error}"
    );
}

#[test]
fn the_voice_speaks_with_threads_that_spin_and_with_threads_that_sleep() {
    let joe = piper_support::joe();
    for spinning in [models::Spinning::Always, models::Spinning::Never] {
        let runtime = models::OnnxRuntime::load(models::RuntimeSettings {
            library: piper_support::ort_library(),
            provider: models::ExecutionProvider::Cpu,
            intra_threads: 2,
            spinning,
        })
        .unwrap();
        let voice =
            models::piper::PiperVoice::load(&runtime, &piper_support::joe_model(), None).unwrap();
        let options = models::piper::PiperOptions::default();
        let ids = joe.sentence_phoneme_ids("Hello world.").unwrap();
        for _ in 0..2 {
            let samples = voice.synthesize_ids(&ids[0], &options).unwrap();
            let seconds = samples.len() as f64 / f64::from(voice.sample_rate());
            assert!((0.5..3.0).contains(&seconds), "{spinning:?}: {seconds} s");
            let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
            assert!(peak > 0.05, "{spinning:?}: silent (peak {peak})");
        }
    }
}
