"""Widgets of the viewer: the timeline, the detail pane, the controls area, the status and player bars."""
