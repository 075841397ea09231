"""The hook forwarder where ``curl`` is missing: ``python -m watchkeeper.adapters.codex.forward SECONDS FILE``.

Does what the curl command does, slower (a Python start per call): reads the
URL and headers from FILE (a curl config, 0600), posts stdin, prints the reply.
Exits 1 when the relay cannot be reached, so Codex goes on (fail-open) unless
the hook command turns that into exit 2.
"""

from __future__ import annotations

import re
import sys
import urllib.error
import urllib.request

_LINE = re.compile(r'^\s*(url|header)\s*=\s*"(.*)"\s*$')


def parse(text: str) -> tuple[str | None, dict[str, str]]:
    url, headers = None, {}
    for line in text.splitlines():
        found = _LINE.match(line)
        if not found:
            continue
        if found.group(1) == "url":
            url = found.group(2)
        else:
            name, _, value = found.group(2).partition(":")
            headers[name.strip()] = value.strip()
    return url, headers


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: forward SECONDS FILE", file=sys.stderr)
        return 1
    try:
        with open(argv[1]) as f:
            url, headers = parse(f.read())
    except OSError as e:
        print(f"watchkeeper hook: {e}", file=sys.stderr)
        return 1
    if not url:
        print("watchkeeper hook: no url in the request file", file=sys.stderr)
        return 1
    request = urllib.request.Request(url, data=sys.stdin.buffer.read(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=float(argv[0])) as response:
            sys.stdout.buffer.write(response.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        print(f"watchkeeper hook: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
