"""Local block lists: file formats, the NetworkSet index and the swapping ListStore.

Pure apart from ``store`` reading and atomically rewriting list files.
"""
