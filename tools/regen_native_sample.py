"""Write watchkeeper/demo/sample_logs/native/sdk-demo.jsonl: a native recording by a small scripted SDK agent."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watchkeeper.sdk import Run

OUT = Path(__file__).resolve().parent.parent / "watchkeeper" / "demo" / "sample_logs" / "native" / "sdk-demo.jsonl"


def main() -> None:
    OUT.unlink(missing_ok=True)
    with Run(OUT, title="Summarise the open issues", model="scripted-1",
             session="5d1c7a2e-0000-4000-8000-00000000d3m0", cwd="/home/dev/demo") as run:
        run.user("Summarise the open issues and label the stale ones.")
        run.state("running")
        time.sleep(0.2)
        call = run.tool_started("list_issues", {"state": "open", "limit": 50}, call_id="call_list")
        time.sleep(0.3)
        run.tool_finished(call, [{"n": 12, "title": "Crash on empty config"}, {"n": 15, "title": "Docs typo"}],
                          duration_ms=300.0)
        run.usage(input_tokens=1200, output_tokens=80, model="scripted-1", cost_usd=0.0021)
        call = run.tool_started("label_issue", {"n": 15, "label": "stale"}, call_id="call_label")
        time.sleep(0.2)
        run.tool_finished(call, "403: token lacks the issues:write scope", is_error=True, duration_ms=200.0)
        run.usage(input_tokens=1350, output_tokens=60, model="scripted-1", cost_usd=0.0023)
        run.assistant("2 open issues; #15 looks stale, but labelling failed: the token lacks issues:write.")
        run.state("idle")


if __name__ == "__main__":
    main()
    print(OUT, OUT.stat().st_size, "bytes")
