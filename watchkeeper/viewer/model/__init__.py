"""The viewer's model: what the screens show, folded from events, with no widgets.

The timeline store and its rows, the detail pane's rendering, the feed from
the relay, the replay's playhead, which controls can be sent now (and why not) and
which sessions wait for the person. Rich text is fine here; Textual widgets
are not.
"""
