"""Submodules of token cost estimation: dataset pricing (``dataset``) and the progress bar."""
