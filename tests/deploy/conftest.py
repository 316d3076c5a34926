from __future__ import annotations

from typing import Any

import pytest

from .rendering import DEPLOY, render_kustomization


@pytest.fixture(params=["merged", "lora"])
def layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rendered(layout: str) -> list[dict[str, Any]]:
    return render_kustomization(DEPLOY / "k8s" / "overlays" / layout)
