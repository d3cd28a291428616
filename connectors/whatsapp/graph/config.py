"""``GraphSettings``: where and as whom the channel calls the Graph API.

Why a module of its own: the channel's settings (connectors/whatsapp/settings.py, the one
place that reads ``WHATSAPP_*``) build this object through its constructor, and the client
(:mod:`.client`) takes it; neither needs the other. The values are checked here once:
a token and a phone number id are required, the version must look like Meta's ``vNN.N``
(https://developers.facebook.com/docs/graph-api/guides/versioning), the timeout is positive.
The module imports neither pywa nor an HTTP library, so reading the settings stays cheap.
"""
from __future__ import annotations

import dataclasses
import re

__all__ = ["DEFAULT_API_BASE_URL", "DEFAULT_API_VERSION", "GraphSettings"]

DEFAULT_API_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v26.0"
"""The Graph API version pywa 4.5.0 is written against (``pywa.utils.Version.GRAPH_API``); written
out so that this module does not import pywa, and checked against pywa by
tests/unit/connectors/whatsapp/graph/test_client.py, so a pywa upgrade that changes it fails there."""

_VERSION_RE = re.compile(r"^v?(\d+\.\d+)$")


@dataclasses.dataclass(frozen=True)
class GraphSettings:
    """Where and as whom to call the Graph API.

    ``api_base_url`` is ``https://graph.facebook.com`` in production and the stand-in's URL
    (e.g. ``http://127.0.0.1:8765``) in tests; it may carry a path prefix for a reverse proxy.
    """

    access_token: str = dataclasses.field(repr=False)
    phone_number_id: str
    api_base_url: str = DEFAULT_API_BASE_URL
    api_version: str = DEFAULT_API_VERSION
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.access_token:
            raise ValueError("access_token is required")
        if not str(self.phone_number_id).strip():
            raise ValueError("phone_number_id is required")
        match = _VERSION_RE.match(self.api_version.strip())
        if match is None:
            raise ValueError(f"api_version must look like 'v21.0', got {self.api_version!r}")
        object.__setattr__(self, "api_version", f"v{match.group(1)}")
        object.__setattr__(self, "phone_number_id", str(self.phone_number_id).strip())
        object.__setattr__(self, "api_base_url", self.api_base_url.rstrip("/"))
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
