"""Widgets of the viewer: the timeline, the detail pane, the status bar, the controls area, a picker."""
