import pytest

pytest.importorskip("matplotlib")

import archsearch  # noqa: E402
from archsearch import IncompatibleError, InvalidParameterError  # noqa: E402
from archsearch.reports import draw_architecture, draw_cell  # noqa: E402
from archsearch.types import CellGraph  # noqa: E402

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


@pytest.fixture
def nb201():
    space = archsearch.create_space("nb201")
    return space, space.parse(ARCH)


def test_png_is_a_nonblank_image(nb201, tmp_path):
    import matplotlib.pyplot as plt

    path = draw_architecture(*nb201, tmp_path / "cell.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = plt.imread(path)[..., :3]
    assert pixels.shape[0] > 100 and pixels.shape[1] > 300
    assert pixels.std() > 0.05 and (pixels.min(axis=2) < 0.5).mean() > 0.005  # ink, not white


def test_svg_names_every_operation(nb201, tmp_path):
    space, arch = nb201
    text = draw_architecture(space, arch, tmp_path / "cell.svg").read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    labels = {op: text.count(f"<!-- {op} -->") for op in
              ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none")}
    assert labels == {"nor_conv_3x3": 2, "nor_conv_1x1": 1, "avg_pool_3x3": 1, "skip_connect": 1,
                      "none": 0}  # one label per edge; a none edge is absent from the cell


def test_a_cell_with_two_inputs_and_plain_arrows(tmp_path):
    graph = CellGraph("normal", ("c_{k-2}", "c_{k-1}", "0", "1", "c_{k}"),
                      ((0, 2, "sep_conv_3x3"), (1, 2, "skip_connect"), (0, 3, "dil_conv_5x5"),
                       (2, 3, "max_pool_3x3"), (2, 4, ""), (3, 4, "")), inputs=2)
    text = draw_cell(graph, tmp_path / "normal.svg", title="normal cell").read_text()
    assert all(op in text for op in ("sep_conv_3x3", "dil_conv_5x5", "max_pool_3x3", "normal cell"))


class Cellless(archsearch.SearchSpace):
    name = "cellless"

    def decisions(self):
        return (archsearch.Decision("width", ("8", "16")),)

    def format(self, values):
        return values[0]

    def parse(self, text):
        return self.from_values([text])

    def build(self, arch, input_shape, n_classes):
        raise NotImplementedError


def test_a_space_without_cells_is_refused(tmp_path):
    space = Cellless()
    with pytest.raises(IncompatibleError, match="'cellless' space has no cells to draw") as info:
        draw_architecture(space, space.parse("8"), tmp_path / "x.png")
    assert "\n" not in str(info.value) and not (tmp_path / "x.png").exists()


def test_unknown_suffix_is_refused(nb201, tmp_path):
    with pytest.raises(InvalidParameterError, match=r"must end in \.png or \.svg"):
        draw_architecture(*nb201, tmp_path / "cell.jpg")
