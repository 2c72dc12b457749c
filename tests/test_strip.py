"""The kernel-free strip of a run's snapshots for the study's index: frames, manifest, slider, damage."""

import json

import matplotlib
import numpy as np

matplotlib.use("Agg")

import pytest

from relunet_support.runs.config import TrainConfig
from relunet_support.runs.train import train
from relunet_support.views import strip


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("strip")
    run = train(TrainConfig(m=40, learning_rate=500.0, n_steps=2000, n_snapshots=30), out / "runs", progress=False)
    return run, strip.write_strip(run, out / "strip", n_frames=6)


def test_the_strip_draws_frames_from_the_first_to_the_last_snapshot(drawn):
    run, manifest_path = drawn
    manifest = strip.read_strip(manifest_path.parent)
    frames = manifest["frames"]
    assert manifest["run_id"] == run.run_id and 2 <= len(frames) <= 6
    assert frames[0]["snapshot"] == 0 and frames[-1]["snapshot"] == run.n_snapshots - 1
    steps = [entry["step"] for entry in frames]
    assert steps == sorted(steps) and steps[-1] == run.config.n_steps
    for entry in frames:
        png = (manifest_path.parent / entry["file"]).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
        assert f"step {entry['step']:,}" in entry["caption"] and entry["condensation"] in entry["caption"]
    assert not [p for p in manifest_path.parent.parent.iterdir() if p.name.startswith(".")]  # nothing left over


def test_the_slider_replaces_the_two_frames_of_the_markdown(drawn):
    _, manifest_path = drawn
    manifest = strip.read_strip(manifest_path.parent)
    text = "\n".join(strip.markdown(manifest, "strip"))
    assert text.count("![") == 2 and strip.START in text and strip.END in text
    page = strip.with_slider(f"<p>before</p>{text}<p>after</p>", manifest, "strip")
    assert "![" not in page and "<p>before</p>" in page and "<p>after</p>" in page
    assert page.count("type='range'") == 1 and f"max='{len(manifest['frames']) - 1}'" in page
    assert all(f'"strip/{entry["file"]}"' in page for entry in manifest["frames"])


@pytest.mark.parametrize(
    "damage",
    [
        lambda folder: (folder / strip.MANIFEST).write_text("{not json"),
        lambda folder: (folder / strip.MANIFEST).write_text(json.dumps({"frames": [{"file": "../x.png"}]})),
        lambda folder: (folder / "01.png").unlink(),
        lambda folder: (folder / strip.MANIFEST).unlink(),
        lambda folder: (folder / "01.png").write_bytes(b"not a picture"),
        lambda folder: ((folder / "01.png").unlink(), (folder / "01.png").symlink_to("/etc/passwd")),
    ],
)
def test_a_damaged_strip_is_left_out(drawn, tmp_path, damage):
    import shutil

    _, manifest_path = drawn
    folder = tmp_path / "strip"
    shutil.copytree(manifest_path.parent, folder)
    assert strip.read_strip(folder) is not None
    damage(folder)
    assert strip.read_strip(folder) is None


def test_a_bad_frame_count_is_named(drawn, tmp_path):
    run, _ = drawn
    with pytest.raises(ValueError, match="n_frames=1 is not allowed"):
        strip.write_strip(run, tmp_path / "strip", n_frames=1)


def test_a_caption_cannot_close_the_script(drawn, tmp_path):
    import shutil

    _, manifest_path = drawn
    folder = tmp_path / "strip"
    shutil.copytree(manifest_path.parent, folder)
    manifest = json.loads((folder / strip.MANIFEST).read_text())
    manifest["frames"][1]["caption"] = "x</script><script>document.title='PWNED'</script>"
    (folder / strip.MANIFEST).write_text(json.dumps(manifest))
    page = strip.slider_html(strip.read_strip(folder), "strip")
    script = page[page.index("<script>") + len("<script>") :]
    assert script.count("</script>") == 1 and "PWNED" in script  # the caption is text inside the one script


def test_the_strip_spends_its_frames_on_the_dynamics_not_the_converged_tail(drawn):
    run, _ = drawn
    picks = strip.strip_indices(run, 8)
    assert picks[0] == 0 and picks[-1] == run.n_snapshots - 1 and picks == sorted(set(picks)) and len(picks) <= 8
    steps, risk = run.records["step"], run.records["risk"]
    fitted = steps[np.flatnonzero(risk < 1e-4 * risk[0])[0]]
    assert run.snapshot_steps[picks[-2]] <= 1.6 * fitted  # every frame but the last within the dynamics
