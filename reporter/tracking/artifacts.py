"""Turn in-memory objects (figures, images, tables) into artifact bytes."""

from __future__ import annotations

import io
import json
from typing import Any

from reporter.core.errors import InvalidArgumentError


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


def image_bytes(image: Any, artifact_file: str) -> bytes:
    """Encode a PIL image or a numpy array (HxW, HxWx3, HxWx4; uint8 or floats in [0, 1])."""
    try:
        from PIL import Image
    except ImportError:
        raise InvalidArgumentError(
            "log_image needs Pillow: pip install 'tracker-report[images]'"
        ) from None
    if not isinstance(image, Image.Image):
        image = _array_to_image(image, Image)
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
