"""The studio at /ui in headless Chromium, against live runners: each page's main path end
to end, errors shown readably, keyboard paths, and axe-core's accessibility check. The
tests run in file order (later ones use what earlier ones stored) and write a screenshot
of each page to docs/ui/."""

from __future__ import annotations

import gzip
import json
import struct
import urllib.request
from pathlib import Path

from playwright.sync_api import expect

from conftest import API_KEY, STANDINS

REFERENCE = STANDINS / "ref_7s.wav"
SOURCE = STANDINS / "src_3s.wav"
TIMEOUT = 60_000


def api(base: str, path: str, method: str = "GET", body: dict | None = None, key: str | None = API_KEY):
    request = urllib.request.Request(base + path, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, data, timeout=60) as response:
        return json.loads(response.read())


def wav_facts(path: Path) -> tuple[int, float]:
    """Sample rate and length in seconds of a PCM WAV file."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:12]
    channels, rate = struct.unpack("<HI", data[22:28])
    bits = struct.unpack("<H", data[34:36])[0]
    at = 12
    while at < len(data):
        chunk, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        if chunk == b"data":
            return rate, size / (rate * channels * bits // 8)
        at += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


def played_duration(page, selector: str) -> float:
    """Loads an <audio> element's media and answers its duration (seconds)."""
    return page.eval_on_selector(selector, """async (audio) => {
        for (let i = 0; i < 100 && !audio.src; i++) await new Promise(r => setTimeout(r, 100));
        if (audio.readyState < 1) {
            audio.preload = 'metadata';
            audio.load();
            await new Promise((ok, fail) => { audio.onloadedmetadata = ok; audio.onerror = () => fail(new Error('media error')); });
        }
        return audio.duration;
    }""")


def test_assets_are_compressed_cached_and_small(studio):
    first_page = ["index.html", "app.css", "icon.svg", "js/app.js", "js/api.js", "js/dom.js", "js/media.js",
                  "js/voice-picker.js"] + [f"js/pages/{p}.js" for p in
                                           ("speak", "clone", "convert", "library", "concat", "jobs", "status")]
    total = 0
    for name in first_page:
        request = urllib.request.Request(f"{studio}/ui/{name}", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request) as response:
            body = response.read()
            assert response.headers["Content-Encoding"] == "gzip", name
            assert response.headers["ETag"], name
            assert gzip.decompress(body), name
            etag = response.headers["ETag"]
        total += len(body)
        again = urllib.request.Request(f"{studio}/ui/{name}", headers={"If-None-Match": etag})
        try:
            urllib.request.urlopen(again)
            raise AssertionError(f"{name}: expected 304")
        except urllib.error.HTTPError as e:
            assert e.code == 304, name
    # The whole first page (every module is loaded up front) stays far under 250 KB.
    assert total < 250 * 1024, total


def test_speak_plays_downloads_and_shows_captions(tab, studio):
    page = tab.open("speak")
    page.get_by_label("Text", exact=True).fill("Hello from the studio. Every word is timed.")
    page.get_by_label("Folder", exact=True).fill("ui-speak")
    page.get_by_role("button", name="Speak", exact=True).click()
    result = page.locator("#speak-result")
    expect(result.get_by_role("heading", name="Result")).to_be_visible(timeout=TIMEOUT)
    expect(result).to_contain_text("piper")
    expect(result).to_contain_text("22050 Hz")
    duration = played_duration(page, "#speak-result audio")
    assert 1.5 < duration < 8, duration
    # Read-along captions: one span per word, the current one highlighted while playing.
    words = result.locator(".captions .word")
    assert words.count() >= 8
    expect(words.first).to_have_text("hello")
    second = words.nth(1)
    middle = (float(second.get_attribute("data-start")) + float(second.get_attribute("data-end"))) / 2
    page.eval_on_selector("#speak-result audio",
                          f"a => {{ a.currentTime = {middle}; a.dispatchEvent(new Event('timeupdate')); }}")
    expect(result.locator(".captions .word.current")).to_have_count(1)
    expect(second).to_have_class("word current")
    with page.expect_download() as download:
        result.get_by_role("button", name="WAV").click()
    saved = Path(download.value.path())
    rate, seconds = wav_facts(saved)
    assert rate == 22050 and abs(seconds - duration) < 0.05
    assert download.value.suggested_filename.startswith("tts_") and download.value.suggested_filename.endswith(".wav")
    listed = api(studio, "/api/v1/outputs?folder=ui-speak")
    assert sorted(f["format"] for f in listed["files"]) == ["mp3", "wav"]
    tab.screenshot("speak")
    assert tab.console_errors == []


def test_stream_preview_plays_while_the_audio_arrives(tab):
    page = tab.open("speak")
    page.get_by_label("Text", exact=True).fill("Streaming starts before the text is done. Here is a second sentence.")
    page.get_by_role("button", name="Stream preview").click()
    note = page.locator("#speak-result p")
    expect(note).to_contain_text("first audio after", timeout=TIMEOUT)
    expect(note).to_contain_text("Played", timeout=TIMEOUT)
    assert tab.console_errors == []


def test_clone_analyses_before_saving_then_speaks_with_the_voice(tab, studio):
    page = tab.open("clone")
    page.get_by_label("Reference recording", exact=True).set_input_files(str(REFERENCE))
    analysis = page.locator("main .cols > section")
    expect(analysis.get_by_role("heading", name="Quality")).to_be_visible(timeout=TIMEOUT)
    expect(analysis).to_contain_text("/ 100")
    # Nothing is stored by the analysis.
    assert api(studio, "/api/v1/voices")["total_voices"] == 0
    page.get_by_label("Name", exact=True).fill("Studio Anna")
    page.get_by_label("Tags").fill("narrator, warm")
    page.get_by_label("Folder", exact=True).fill("cast")
    page.get_by_role("button", name="Save voice").click()
    expect(page.get_by_text("Saved as cast/ref_7s.wav.")).to_be_visible(timeout=TIMEOUT)
    voices = api(studio, "/api/v1/voices")["voices"]
    assert [(v["name"], v["url"], v["tags"]) for v in voices] == [("Studio Anna", "cast/ref_7s.wav", ["narrator", "warm"])]
    tab.screenshot("clone")

    page.get_by_role("link", name="Speak with “Studio Anna”").click()
    expect(page.get_by_role("heading", name="Speak", exact=True)).to_be_visible()
    expect(page.locator("select[name=reference_audio_filename]")).to_have_value("cast/ref_7s.wav")
    page.get_by_label("Text", exact=True).fill("Cloned speech.")
    page.get_by_text("Cloning settings (Chatterbox)").click()
    page.get_by_label("Candidates per chunk").fill("1")
    page.get_by_role("button", name="Speak", exact=True).click()
    result = page.locator("#speak-result")
    expect(result).to_contain_text("chatterbox", timeout=TIMEOUT)
    result.get_by_role("button", name="Reuse seed").click()
    seed = page.get_by_label("Seed (0: random)").input_value()
    assert int(seed) > 0
    expect(result).to_contain_text(seed)
    assert tab.console_errors == []


def test_convert_compares_input_and_result(tab, studio):
    page = tab.open("convert")
    page.get_by_label("Recording to convert", exact=True).set_input_files(str(SOURCE))
    expect(page.locator("select[name=target_voice_source]")).to_have_value("cast/ref_7s.wav")
    page.get_by_role("button", name="Convert", exact=True).click()
    expect(page.get_by_role("heading", name="Before and after")).to_be_visible(timeout=TIMEOUT)
    before = played_duration(page, "audio[aria-label='Play the input']")
    after = played_duration(page, "audio[aria-label='Play the converted audio']")
    assert abs(before - 3.0) < 0.1 and abs(after - before) < 0.1, (before, after)
    assert api(studio, "/api/v1/outputs?generation_type=vc")["total_files"] == 2
    tab.screenshot("convert")
    assert tab.console_errors == []


def test_library_edits_metadata_moves_and_deletes(tab, studio):
    page = tab.open("library")
    row = page.locator("tbody tr", has_text="Studio Anna")
    expect(row).to_contain_text("cast")
    row.get_by_role("button", name="Edit Studio Anna").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Anna Reads")
    dialog.get_by_label("Folder").fill("cast/leads")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    moved = page.locator("tbody tr", has_text="Anna Reads")
    expect(moved).to_contain_text("cast/leads")
    expect(page.get_by_role("navigation", name="Folders")).to_contain_text("leads (1)")
    assert api(studio, "/api/v1/voices")["voices"][0]["url"] == "cast/leads/ref_7s.wav"
    # The tag filter is exact.
    page.get_by_label("Filter by tag").fill("warm")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Filter by tag").fill("war")
    expect(page.get_by_text("No voices here.")).to_be_visible()
    page.get_by_label("Filter by tag").fill("")
    expect(page.locator("tbody tr")).to_have_count(1)

    # Bulk upload, then multi-select delete with confirmation.
    page.get_by_text("Upload voices").click()
    page.get_by_label("Files", exact=True).set_input_files([str(REFERENCE), str(SOURCE)])
    page.locator("details form").get_by_label("Folder").fill("extras")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("src_3s.wav: created as extras/src_3s.wav")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("tbody tr")).to_have_count(3)
    tab.screenshot("library")
    for name in ("Select ref_7s", "Select src_3s"):
        page.get_by_role("checkbox", name=name).check()
    page.get_by_role("button", name="Delete selected (2)").click()
    confirm = page.get_by_role("dialog")
    expect(confirm).to_contain_text("extras/ref_7s.wav")
    confirm.get_by_role("button", name="Cancel").click()
    assert api(studio, "/api/v1/voices")["total_voices"] == 3
    page.get_by_role("button", name="Delete selected (2)").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    assert [v["url"] for v in api(studio, "/api/v1/voices")["voices"]] == ["cast/leads/ref_7s.wav"]

    # Outputs: parameters, and "generate again" fills the Speak form.
    page.get_by_role("link", name="Outputs").click()
    expect(page.locator("tbody tr", has_text="VC").first).to_be_visible()
    page.get_by_label("Filter by kind").select_option("tts")
    expect(page.locator("tbody tr", has_text="VC")).to_have_count(0)
    first = page.locator("tbody tr").first
    first.get_by_role("button", name="Details").click()
    expect(page.locator("pre")).to_contain_text('"text"')
    page.get_by_role("button", name="Generate again with these settings").click()
    expect(page.get_by_role("heading", name="Speak", exact=True)).to_be_visible()
    assert page.get_by_label("Text", exact=True).input_value() in (
        "Hello from the studio. Every word is timed.", "Cloned speech.")
    assert tab.console_errors == []


def test_vc_inputs_upload_with_a_transcript_and_convert_from_the_store(tab, studio):
    page = tab.open("library/vc_inputs")
    page.get_by_text("Upload vc inputs").click()
    page.get_by_label("Files", exact=True).set_input_files(str(SOURCE))
    page.get_by_label("Transcript of src_3s.wav").fill("Three seconds of source.")
    page.locator("details form").get_by_label("Folder").fill("takes")
    page.get_by_role("button", name="Upload", exact=True).click()
    row = page.locator("tbody tr", has_text="src_3s.wav")
    expect(row).to_contain_text("“Three seconds of source.”", timeout=TIMEOUT)
    expect(row).to_contain_text("takes")
    stored = api(studio, "/api/v1/vc_inputs")["files"]
    assert [(f["path"], f["text"]) for f in stored] == [("takes/src_3s.wav", "Three seconds of source.")]
    # Convert picks it from the store (JSON request) and plays both sides.
    page = tab.open("convert")
    page.get_by_label("Stored VC input").select_option("takes/src_3s.wav")
    page.get_by_role("button", name="Convert", exact=True).click()
    expect(page.get_by_role("heading", name="Before and after")).to_be_visible(timeout=TIMEOUT)
    before = played_duration(page, "audio[aria-label='Play the input']")
    after = played_duration(page, "audio[aria-label='Play the converted audio']")
    assert abs(before - 3.0) < 0.1 and abs(after - before) < 0.1, (before, after)
    assert tab.console_errors == []


def test_concat_builds_and_exports(tab, studio):
    page = tab.open("concat")
    adds = page.locator("section[aria-labelledby=add-title] ul").get_by_role("button", name="Add")
    expect(adds.first).to_be_visible(timeout=TIMEOUT)
    wavs = page.locator("section[aria-labelledby=add-title] li", has_text=".wav")
    wavs.nth(0).get_by_role("button").click()
    page.get_by_label("Silence (seconds)").fill("1.5")
    page.get_by_role("button", name="Add silence").click()
    page.get_by_label("Upload clips (used, not stored)").set_input_files(str(SOURCE))
    timeline = page.get_by_role("list", name="Timeline")
    expect(timeline.locator("li")).to_have_count(3)
    # Keyboard reorder: the upload moves up one place with Alt+ArrowUp.
    upload = timeline.locator("li").nth(2)
    upload.focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(timeline.locator("li").nth(1)).to_contain_text("Upload: src_3s.wav")
    expect(timeline.locator("li").nth(1)).to_be_focused()
    # Drag and drop: the first clip dropped on the last place, then back.
    timeline.locator("li").nth(0).drag_to(timeline.locator("li").nth(2))
    expect(timeline.locator("li").nth(2)).not_to_contain_text("Upload")
    expect(timeline.locator("li").nth(0)).to_contain_text("Upload: src_3s.wav")
    timeline.locator("li").nth(2).drag_to(timeline.locator("li").nth(0))
    expect(timeline.locator("li").nth(1)).to_contain_text("Upload: src_3s.wav")
    page.locator("input[name=export_formats][value=mp3]").check()
    page.get_by_label("File name").fill("studio-mix")
    page.get_by_label("Folder", exact=True).fill("mixes")
    page.get_by_role("button", name="Build and play").click()
    result = page.locator("section[aria-labelledby=concat-result]")
    expect(result).to_be_visible(timeout=TIMEOUT)
    expect(result).to_contain_text("2 clips, 1 silences")
    with page.expect_download() as download:
        result.get_by_role("button", name="WAV").click()
    rate, seconds = wav_facts(Path(download.value.path()))
    listed = api(studio, "/api/v1/outputs?folder=mixes")["files"]
    assert sorted(f["filename"] for f in listed) == ["studio-mix.mp3", "studio-mix.wav"]
    wav = next(f for f in listed if f["format"] == "wav")
    assert rate == wav["sample_rate"] and abs(seconds - wav["duration_seconds"]) < 0.01
    assert seconds > 1.5 + 3.0
    # The 64-bit seed is shown exactly (past JavaScript's 2^53) and can be reused.
    sidecar = api(studio, "/outputs/mixes/studio-mix.wav.json")
    seed = str(sidecar["parameters"]["seed"])
    expect(result).to_contain_text(seed)
    result.get_by_role("button", name="Reuse seed").click()
    assert page.get_by_label("Seed").input_value() == seed
    first_length = played_duration(page, "section[aria-labelledby=concat-result] audio")
    assert abs(first_length - seconds) < 0.05
    # Rebuilt under the same name without the silence: the player has the new file, not
    # a cached copy of the old one.
    timeline.get_by_role("button", name="Remove Silence (1.5s)").click()
    page.get_by_role("button", name="Build and play").click()
    expect(result).to_contain_text("0 silences", timeout=TIMEOUT)
    second_length = played_duration(page, "section[aria-labelledby=concat-result] audio")
    assert abs(first_length - second_length - 1.5) < 0.1, (first_length, second_length)
    tab.screenshot("concat")
    assert tab.console_errors == []


def test_job_starts_and_is_followed_to_the_end(tab, studio):
    page = tab.open("jobs")
    page.get_by_label("Title").fill("Studio Book")
    page.get_by_label("Text", exact=True).fill("# Opening\nIt begins here.\n\n# Closing\nAnd it ends here.")
    page.get_by_role("button", name="Start job").click()
    detail = page.locator("main section[aria-live=polite]").first
    expect(detail.locator(".badge")).to_have_text("completed", timeout=TIMEOUT)
    expect(detail.locator("progress")).to_have_attribute("value", "1")
    expect(detail).to_contain_text("Book: jobs/studio-book/studio-book.mp3")
    expect(detail.locator("tbody tr")).to_have_count(2)
    expect(page.locator("section[aria-labelledby=jobs-recent] tbody tr")).to_have_count(1)
    jobs = api(studio, "/api/v1/jobs")["jobs"]
    assert [j["status"] for j in jobs] == ["completed"]
    tab.screenshot("jobs")
    assert tab.console_errors == []


def test_a_running_job_can_be_cancelled(tab, studio):
    page = tab.open("jobs")
    page.get_by_label("Title").fill("Long Book")
    sentences = " ".join(f"This is sentence number {n} of a long chapter." for n in range(1, 401))
    page.get_by_label("Text", exact=True).fill(f"# Only\n{sentences}")
    page.get_by_role("button", name="Start job").click()
    detail = page.locator("main section[aria-live=polite]").first
    expect(detail.locator(".badge")).to_have_text("running", timeout=TIMEOUT)
    detail.get_by_role("button", name="Cancel job").click()
    expect(detail.locator(".badge")).to_have_text("cancelled", timeout=TIMEOUT)
    expect(detail.get_by_role("button", name="Cancel job")).to_be_disabled()
    job = next(j for j in api(studio, "/api/v1/jobs")["jobs"] if j["request"]["title"] == "Long Book")
    assert job["status"] == "cancelled"
    assert job["progress"]["chunks_done"] < job["progress"]["chunks_total"]


def test_status_shows_health_engines_and_store(tab):
    page = tab.open("status")
    expect(page.get_by_role("region", name="Service")).to_contain_text("healthy")
    expect(page.get_by_role("region", name="Store")).to_contain_text("s3")
    expect(page.get_by_role("region", name="Engines")).to_contain_text("installed: yes")
    expect(page.get_by_role("region", name="API key")).to_contain_text("is accepted")
    tab.screenshot("status")
    assert tab.console_errors == []


def test_a_bad_parameter_is_shown_on_its_field(tab, studio):
    page = tab.open("speak")
    page.get_by_label("Text", exact=True).fill("Too hot.")
    page.locator("select[name=reference_audio_filename]").select_option("cast/leads/ref_7s.wav")
    page.get_by_text("Cloning settings (Chatterbox)").click()
    page.get_by_label("Temperature").fill("5")
    # Folded again: the error unfolds it to show the field.
    page.get_by_text("Cloning settings (Chatterbox)").click()
    page.get_by_role("button", name="Speak", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("temperature must be between 0 and 2 (got 5)")
    expect(alert).to_contain_text("HTTP 422 · VALIDATION_ERROR")
    expect(page.get_by_label("Temperature")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Temperature")).to_be_focused()


def test_a_wrong_key_says_what_to_do(browser, studio):
    from conftest import Page
    tab = Page(browser, studio, "sk-wrong")
    try:
        page = tab.open("status")
        card = page.get_by_role("region", name="API key")
        expect(card).to_contain_text("API key needed or not accepted.")
        expect(card).to_contain_text("Enter the key in the “API key” box")
        # Saving the right key through the box fixes it, and it is kept in the browser.
        page.get_by_role("textbox", name="API key").fill(API_KEY)
        page.get_by_role("button", name="Save key").click()
        expect(page.get_by_role("region", name="API key")).to_contain_text("is accepted")
        assert page.evaluate("localStorage.getItem('speech-studio.api-key')") == API_KEY
    finally:
        tab.context.close()


def test_a_missing_model_is_explained(bare_tab, bare):
    page = bare_tab.open("clone")
    page.get_by_label("Reference recording", exact=True).set_input_files(str(REFERENCE))
    page.get_by_role("button", name="Save voice").click()
    expect(page.get_by_text("can store the voice but not clone it yet")).to_be_visible(timeout=TIMEOUT)
    page = bare_tab.open("speak")
    option = page.locator("select[name=reference_audio_filename] option", has_text="ref_7s")
    expect(option).to_be_disabled()
    expect(option).to_contain_text("needs Chatterbox")
    expect(page.locator("select[name=model] option[value=chatterbox]")).to_be_disabled()
    page = bare_tab.open("convert")
    expect(page.get_by_role("note")).to_contain_text("has not installed")
    page.get_by_label("Recording to convert", exact=True).set_input_files(str(SOURCE))
    page.get_by_role("button", name="Convert", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Model not installed.", timeout=TIMEOUT)
    expect(alert).to_contain_text("MODEL_NOT_INSTALLED")
    assert api(bare, "/api/v1/outputs", key=None)["total_files"] == 0


def test_a_recording_is_made_in_the_browser_and_analysed(bare_tab):
    # Chromium's fake microphone (a tone): MediaRecorder's clip becomes a WAV the server decodes.
    page = bare_tab.open("clone")
    page.get_by_role("button", name="Record", exact=True).click()
    stop = page.get_by_role("button", name="Stop recording")
    expect(stop).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(2500)
    stop.click()
    expect(page.get_by_text("recording-")).to_be_visible(timeout=TIMEOUT)
    analysis = page.locator("main .cols > section")
    expect(analysis.get_by_role("heading", name="Quality")).to_be_visible(timeout=TIMEOUT)
    # Mono 16-bit WAV at the rate the browser decodes at.
    rate = page.evaluate("(() => { const c = new AudioContext(); const r = c.sampleRate; c.close(); return r; })()")
    expect(analysis).to_contain_text(f"{rate} Hz, 1 channel(s)")
    length = float(analysis.locator("dd").first.inner_text().split()[0])
    assert 2.0 <= length <= 3.5, length
    assert page.get_by_label("Name", exact=True).input_value().startswith("recording-")


def test_keyboard_paths(tab):
    page = tab.open("speak")
    page.keyboard.press("Alt+4")
    expect(page.get_by_role("heading", name="Library")).to_be_visible()
    page.keyboard.press("Alt+1")
    text = page.get_by_label("Text", exact=True)
    expect(text).to_be_focused()
    text.fill("Control enter speaks.")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="Result")).to_be_visible(timeout=TIMEOUT)
    # Tab reaches the skip link first; it moves focus to the page and keeps the route.
    page = tab.open("status")
    page.reload()
    page.wait_for_selector("main h1")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page.get_by_role("heading", name="Status")).to_be_visible()


def test_every_page_passes_axe(browser, studio):
    from conftest import Page
    tab = Page(browser, studio, API_KEY, bypass_csp=True)
    for route in ("speak", "clone", "convert", "library", "library/outputs", "concat", "jobs", "status"):
        page = tab.open(route)
        page.wait_for_load_state("networkidle")
        violations = tab.axe()
        assert violations == [], (route, [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in violations])
