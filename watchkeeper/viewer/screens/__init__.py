"""Screens: the sessions list, one session, its replay, and the dialogs; each screen's .tcss beside it."""
