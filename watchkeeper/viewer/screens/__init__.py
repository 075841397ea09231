"""Screens: the sessions list and one session; each with its own .tcss beside it."""
