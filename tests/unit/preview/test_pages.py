"""The pages are whatever preview/static/ holds, with the right types, and nothing outside it."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("path", "content_type", "text"),
    [
        ("/", "text/html", "<title>chat</title>"),
        ("/gallery", "text/html", "<title>gallery</title>"),
        ("/static/whatsapp.js", "text/javascript", "window.WhatsApp"),
        ("/static/preview.css", "text/css", "margin: 0"),
        ("/static/index.html", "text/html", "<title>chat</title>"),
    ],
)
async def test_static_files_are_served_with_their_content_type(preview, path, content_type, text):
    response = await preview.http.get(path)

    assert response.status_code == 200 and text in response.text
    assert response.headers["content-type"].startswith(content_type)
    assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/.hidden.js",
        "/static/missing.js",
        "/static/whatsapp.py",
        "/secret.txt",
    ],
)
async def test_nothing_outside_the_static_folder_is_served(preview, path):
    response = await preview.http.get(path)

    assert response.status_code == 404
    assert "outside the static folder" not in response.text


async def test_a_symbolic_link_out_of_the_folder_is_refused(preview, static_dir, tmp_path):
    (static_dir / "link.txt").symlink_to(tmp_path / "secret.txt")

    response = await preview.http.get("/static/link.txt")

    assert response.status_code == 404
