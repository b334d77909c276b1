"""Shared inputs and helpers; stdlib only, so reference interpreters import them too."""
