"""Scripts that run under a reference implementation's own interpreter (.venvs/ref-*)."""
