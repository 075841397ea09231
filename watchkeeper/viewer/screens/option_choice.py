"""When an ACP agent's permission request lacks the plain answer, the person picks one of the agent's own.

Approve sends the agent's ``allow_once`` option and deny its ``reject_once``.
An agent may offer neither (only ``allow_always`` / ``reject_always``, say):
then y or n lists the options that fit the decision, named as the agent names
them with their kind, and the one picked is sent by its id. Nothing is picked
for the person: an "always" option is sent only when chosen here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.screen import Screen

from ...protocol.session import Held
from .picker import Picker

#: The option each decision sends when the agent offers it.
PLAIN = {"approve": "allow_once", "deny": "reject_once"}
#: The kinds of option that mean each decision.
FITS = {"approve": ("allow_once", "allow_always"), "deny": ("reject_once", "reject_always")}


def needs_choice(held: Held | None, decision: str) -> bool:
    """The call is an ACP permission request whose agent offers no plain option for ``decision``."""
    return (held is not None and held.options is not None and decision in PLAIN
            and held.option_of(PLAIN[decision]) is None)


def choose_option(screen: Screen[Any], held: Held, decision: str, then: Callable[[str], object]) -> None:
    """Ask which of the agent's options to send for ``decision``; ``then`` gets the option's id."""
    fitting = [o for o in held.options or () if o["kind"] in FITS[decision]]
    if not fitting:
        offered = ", ".join(f"{o['name']} ({o['kind']})" for o in held.options or ()) or "none"
        screen.notify(f"The agent offers no option that would {decision} this call (its options: {offered}); "
                      "C cancels its turn", severity="warning", markup=False)
        return
    labels = {o["id"]: f"{o['name']}  ({o['kind']})" for o in fitting}
    picker = Picker(f"The agent offers no {PLAIN[decision]} option: {decision} with which of its own?",
                    [(o["id"], 0) for o in fitting], labels, values=False, counts=False)

    def chosen(option: str | None) -> None:
        if option is not None:
            then(option)

    screen.app.push_screen(picker, chosen)
