"""Print the API's OpenAPI document: ``python -m ragkit.serve.openapi > docs/openapi.json``
(tests/test_serve.py checks the committed file is current)."""

from __future__ import annotations

import json
import sys

from ragkit.serve.app import openapi_document


def main() -> None:
    sys.stdout.write(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
