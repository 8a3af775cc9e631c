"""Turn in-memory objects (figures, images, tables) into artifact bytes, and tables back."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from reporter.core.errors import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd


def _extension(artifact_file: str) -> str:
    """Return the lower-case extension of a file name, without the dot."""
    return artifact_file.rsplit(".", 1)[-1].lower() if "." in artifact_file else ""


def figure_bytes(figure: Any, artifact_file: str, **save_kwargs: Any) -> bytes:
    """Render a matplotlib figure or an Altair chart to bytes in the file's format."""
    ext = _extension(artifact_file)
    if hasattr(figure, "savefig"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=ext or "png", **save_kwargs)
        return buffer.getvalue()
    if hasattr(figure, "to_dict") and hasattr(figure, "to_html"):
        if ext == "html":
            return str(figure.to_html()).encode("utf-8")
        if ext == "json":
            return json.dumps(figure.to_dict(), indent=2).encode("utf-8")
        raise InvalidArgumentError(
            f"An Altair chart is saved as .html or .json, not {artifact_file!r}"
        )
    raise InvalidArgumentError(
        f"log_figure takes a matplotlib Figure or an Altair chart, got {type(figure).__name__}"
    )


def _pil() -> Any:
    """Return Pillow's Image module, or fail saying how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise InvalidArgumentError(
            "Images need Pillow: pip install 'tracker-report[images]'"
        ) from None
    return Image


class Image:
    """MLflow's `mlflow.Image`: an image from a numpy array, a nested list, a PIL image or a
    file path, for `log_image`."""

    def __init__(self, image: Any) -> None:
        pil = _pil()
        if isinstance(image, str):
            self.image = pil.open(image)
        elif isinstance(image, pil.Image):
            self.image = image
        elif isinstance(image, list) or hasattr(image, "__array__"):
            import numpy as np

            self.image = _array_to_image(np.asarray(image), pil)
        else:
            raise TypeError(
                f"Unsupported image object type: {type(image).__name__}; use a numpy array, "
                "a list, a PIL image or a path to an image file"
            )
        self.size = self.image.size

    def to_list(self) -> list[Any]:
        """Return the pixels as nested lists."""
        result: list[Any] = self.to_array().tolist()
        return result

    def to_array(self) -> Any:
        """Return the pixels as a numpy array."""
        import numpy as np

        return np.array(self.image)

    def to_pil(self) -> Any:
        """Return the PIL image."""
        return self.image

    def save(self, path: str) -> None:
        """Write the image to a file (the format follows the extension)."""
        self.image.save(path)

    def resize(self, size: tuple[int, int]) -> Image:
        """Return a copy resized to (width, height)."""
        return Image(self.image.resize(size))


def image_bytes(image: Any, artifact_file: str) -> bytes:
    """Encode a PIL image, a numpy array (HxW, HxWx3, HxWx4; uint8 or floats in [0, 1]) or an
    `Image`."""
    pil = _pil()
    if isinstance(image, Image):
        image = image.image
    if not isinstance(image, pil.Image):
        image = _array_to_image(image, pil)
    ext = _extension(artifact_file) or "png"
    fmt = {
        "jpg": "JPEG",
        "jpeg": "JPEG",
        "png": "PNG",
        "gif": "GIF",
        "webp": "WEBP",
        "bmp": "BMP",
        "tif": "TIFF",
        "tiff": "TIFF",
    }.get(ext)
    if fmt is None:
        raise InvalidArgumentError(
            f"log_image: unknown image type {ext!r} in {artifact_file!r}; "
            "use .png, .jpg, .gif, .webp, .bmp or .tiff"
        )
    if fmt == "JPEG" and image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _array_to_image(array: Any, image_module: Any) -> Any:
    """Convert a numpy array to a PIL image, scaling floats in [0, 1] to bytes."""
    import numpy as np

    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InvalidArgumentError(
            f"log_image: array of shape {arr.shape} is not an image; use HxW, HxWx1, HxWx3 or HxWx4"
        )
    if arr.dtype.kind == "f":
        if np.nanmin(arr) < 0 or np.nanmax(arr) > 1:
            raise InvalidArgumentError("log_image: float arrays must hold values in [0, 1]")
        arr = (arr * 255).round().astype(np.uint8)
    elif arr.dtype.kind in "iub":
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise InvalidArgumentError("log_image: integer arrays must hold values in [0, 255]")
        arr = arr.astype(np.uint8)
    else:
        raise InvalidArgumentError(f"log_image: unsupported array dtype {arr.dtype}")
    return image_module.fromarray(arr)


def table_bytes(data: Any, artifact_file: str) -> bytes:
    """Serialise a DataFrame (or dict of columns) as .json, .csv or .parquet."""
    import pandas as pd

    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    ext = _extension(artifact_file)
    if ext == "json":
        return frame.to_json(orient="split", index=False, date_format="iso").encode("utf-8")
    if ext == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    if ext == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise InvalidArgumentError(f"log_table: {artifact_file!r} must end in .json, .csv or .parquet")


def read_table(data: bytes, artifact_file: str) -> pd.DataFrame:
    """Read a table written by `table_bytes` (or by MLflow's log_table) back as a DataFrame."""
    import pandas as pd

    ext = _extension(artifact_file)
    if ext == "json":
        return pd.read_json(io.StringIO(data.decode("utf-8")), orient="split")
    if ext == "csv":
        return pd.read_csv(io.BytesIO(data))
    if ext == "parquet":
        return pd.read_parquet(io.BytesIO(data))
    raise InvalidArgumentError(f"load_table: {artifact_file!r} must end in .json, .csv or .parquet")
