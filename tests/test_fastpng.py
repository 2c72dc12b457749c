import io

import numpy as np
import pytest
from PIL import Image

from relunet_support.fastpng import encode_png


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 5, 4), (64, 33, 3), (40, 300, 4)])
def test_png_decodes_to_the_same_pixels(shape):
    rng = np.random.default_rng(sum(shape))
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    pixels[shape[0] // 2:] = pixels[: shape[0] - shape[0] // 2]  # repeated rows, as in plots
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(pixels))))
    np.testing.assert_array_equal(decoded, pixels)


def test_a_figure_buffer_round_trips():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=50)
    ax.plot([0, 1], [1, 0])
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(pixels)))), pixels)


@pytest.mark.parametrize("pixels", [np.zeros((4, 4, 3), dtype=np.float64), np.zeros((4, 4), dtype=np.uint8),
                                    np.zeros((0, 4, 3), dtype=np.uint8), np.zeros((4, 4, 2), dtype=np.uint8)])
def test_bad_pixels_are_refused(pixels):
    with pytest.raises(ValueError, match="not allowed"):
        encode_png(pixels)
