"""render/media.py: images and attachments as media messages."""
from __future__ import annotations

import pytest

from connectors.whatsapp.render.media import attachment_messages, image_messages


def test_image_url_with_and_without_caption() -> None:
    assert image_messages(" https://e.org/a.png ", "Büro") == [{"type": "image", "image": {"link": "https://e.org/a.png", "caption": "Büro"}}]
    assert image_messages("https://e.org/a.png", None) == [{"type": "image", "image": {"link": "https://e.org/a.png"}}]


def test_native_image_passes_through_as_a_copy() -> None:
    native = {"type": "image", "image": {"id": "123"}, "to": "49"}
    out = image_messages(native, "ignored")
    assert out == [{"type": "image", "image": {"id": "123"}}]
    out[0]["image"]["id"] = "changed"
    assert native["image"]["id"] == "123"


@pytest.mark.parametrize("image", ["file:///etc/passwd", "ftp://e.org/a.png", 3, {"image": {}}])
def test_other_images_are_skipped(image: object, caplog: pytest.LogCaptureFixture) -> None:
    assert image_messages(image, None) == []
    assert "ignoring image" in caplog.text


def test_attachment_url_becomes_a_named_document() -> None:
    assert attachment_messages("https://e.org/files/Info%20A.pdf") == [
        {"type": "document", "document": {"link": "https://e.org/files/Info%20A.pdf", "filename": "Info A.pdf"}}
    ]
    assert attachment_messages("https://e.org/") == [{"type": "document", "document": {"link": "https://e.org/"}}]


def test_attachment_native_or_junk() -> None:
    video = {"type": "video", "video": {"link": "https://e.org/v.mp4"}}
    assert attachment_messages(video) == [video]
    assert attachment_messages(["x"]) == []
