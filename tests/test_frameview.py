"""FrameView's messages rebuild every frame exactly (the front end's logic, replayed in Python; the
browser test checks frameview.js itself)."""

import zlib

import numpy as np
import pytest

from relunet_support.views.frameview import FrameView


class FrontEnd:
    """What frameview.js does with the messages: a full frame, then patches applied in order."""

    def __init__(self):
        self.pixels = None
        self.serial = None

    def receive(self, content, buffers):
        if content["kind"] == "full":
            data = np.frombuffer(zlib.decompress(buffers[0]), np.uint8)
            self.pixels = data.reshape(content["height"], content["width"], 4).copy()
        elif content["kind"] == "patch":
            if self.pixels is None or content["serial"] != self.serial + 1:
                return
            gaps = np.frombuffer(zlib.decompress(buffers[0]), "<u4")
            values = np.frombuffer(zlib.decompress(buffers[1]), "<u4")
            self.pixels.view("<u4").reshape(-1)[np.cumsum(gaps, dtype=np.int64)] = values
        self.serial = content["serial"]


@pytest.fixture
def view():
    widget = FrameView(width=8, height=6)
    widget.messages = []
    widget.send = lambda content, buffers=None: widget.messages.append((content, list(buffers)))
    return widget


def test_every_frame_is_rebuilt_exactly_from_a_full_frame_and_patches(view):
    rng = np.random.default_rng(3)
    front = FrontEnd()
    frame = rng.integers(0, 256, (6, 8, 4), dtype=np.uint8)
    for k in range(30):
        if k == 20:
            frame = rng.integers(0, 256, (5, 9, 4), dtype=np.uint8)  # a new size: a full frame
        else:
            changed = rng.random(frame.shape[:2]) < 0.1
            frame = frame.copy()
            frame[changed] = rng.integers(0, 256, (int(changed.sum()), 4), dtype=np.uint8)
            frame[0, 0, 0] = 255 - frame[0, 0, 0] if k % 7 == 0 else frame[0, 0, 0]  # the first pixel changes too
        view.show(frame)
        for message in view.messages:
            front.receive(*message)
        view.messages.clear()
        np.testing.assert_array_equal(front.pixels, frame)
    assert view.frames_sent == 30


def test_an_identical_frame_sends_nothing_and_a_new_view_gets_the_whole_frame(view):
    frame = np.full((6, 8, 4), 200, np.uint8)
    view.show(frame)
    view.show(frame.copy())
    assert [content["kind"] for content, _ in view.messages] == ["full"] and view.frames_sent == 1
    frame[2, 3] = (1, 2, 3, 255)
    view.show(frame)
    late = FrontEnd()  # a view opened now: patches alone are not enough …
    late.receive(*view.messages[-1])
    assert late.pixels is None
    view._on_request(view, {"request": "full"}, [])  # … it asks for the whole frame
    late.receive(*view.messages[-1])
    np.testing.assert_array_equal(late.pixels, frame)


def test_frames_that_are_not_rgba_bytes_are_refused(view):
    with pytest.raises(ValueError, match=r"shape \(6, 8, 3\) are not allowed: expected a uint8 array of shape"):
        view.show(np.zeros((6, 8, 3), np.uint8))


def test_a_full_frame_follows_every_keyframe_interval_of_patches(view):
    from relunet_support.views.frameview import KEYFRAME_EVERY

    frame = np.zeros((6, 8, 4), np.uint8)
    for k in range(2 * KEYFRAME_EVERY + 3):
        frame = frame.copy()
        frame[k % 6, k % 8, 0] += 1
        view.show(frame)
    kinds = [content["kind"] for content, _ in view.messages]
    fulls = [i for i, kind in enumerate(kinds) if kind == "full"]
    assert fulls == [0, KEYFRAME_EVERY + 1, 2 * KEYFRAME_EVERY + 2]
    late = FrontEnd()  # a view that missed the first full frame catches up at the next one
    for message in view.messages[KEYFRAME_EVERY // 2 :]:
        late.receive(*message)
    np.testing.assert_array_equal(late.pixels, frame)
