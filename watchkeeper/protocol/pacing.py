"""How a recording's timing is played back: shared by the demo's paced source and the replay's playhead."""

#: A pause longer than this in the recording plays as this long (at speed 1): idle hours are skipped.
MAX_GAP_S = 3.0
