"""Specs on disk: the index, phase files, status, tasks, edits, completion candidates."""
